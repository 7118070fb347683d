import Foundation
import MeridianCore
import Testing

@Suite("Standard Webhooks signatures")
struct WebhookSignatureTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The specification's own test vector (standard-webhooks/spec, "Example").
    @Test func matchesTheSpecificationExample() throws {
        let signature = try WebhookSignature(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let body = Array(#"{"test": 2432232314}"#.utf8)
        #expect(signature.sign(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: body)
            == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func verifiesAndRejects() throws {
        let signature = try WebhookSignature(secret: WebhookSecret.generate())
        let body = Array("{}".utf8)
        let header = signature.sign(id: "msg_1", timestamp: 100, body: body)
        #expect(signature.verify(id: "msg_1", timestamp: 100, body: body, signatureHeader: "v1,bogus \(header)"))
        #expect(!signature.verify(id: "msg_1", timestamp: 101, body: body, signatureHeader: header))
        #expect(!signature.verify(id: "msg_2", timestamp: 100, body: body, signatureHeader: header))
        #expect(!signature.verify(id: "msg_1", timestamp: 100, body: Array("{ }".utf8), signatureHeader: header))
    }

    @Test func refusesBadSecrets() {
        for bad in ["", "whsec_", "whsec_not base64!", "whsec_" + Data(count: 8).base64EncodedString()] {
            #expect(throws: WebhookSignature.InvalidSecret.self) { try WebhookSignature(secret: bad) }
        }
    }

    /// A real payload, signed here, verified by the Python `standardwebhooks` package (installed by
    /// scripts/setup into .build/venv). It is a real peer, not a mock.
    @Test func thePythonStandardWebhooksLibraryVerifiesOurSignature() throws {
        let python = Self.packageRoot.appendingPathComponent(".build/venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("run scripts/setup: \(python.path) is missing") }
            return
        }
        let secret = WebhookSecret.generate()
        let raw = try [UInt8](Data(contentsOf: MessageCorpusTests.directory.appendingPathComponent("nested-mixed-attachments.eml")))
        let message = MIMEMessage(parsing: raw)
        let body = WebhookPayload.encode(envelope: MessageCorpusTests.envelope(raw.count), message: message, content: MessageContent(message))
        let id = WebhookSignature.makeMessageID()
        let timestamp = Int(Date().timeIntervalSince1970)
        let headers = try WebhookSignature(secret: secret).headers(id: id, timestamp: timestamp, body: body)

        func verify(_ body: [UInt8]) throws -> (status: Int32, output: String) {
            let bodyFile = FileManager.default.temporaryDirectory.appendingPathComponent("payload-\(UUID()).json")
            try Data(body).write(to: bodyFile)
            defer { try? FileManager.default.removeItem(at: bodyFile) }
            let process = Process()
            process.executableURL = python
            process.arguments = ["-c", """
                import json, sys
                from standardwebhooks.webhooks import Webhook
                body = open(sys.argv[2], "rb").read()
                payload = Webhook(sys.argv[1]).verify(body, json.loads(sys.argv[3]))
                print(payload["envelope"]["to"], len(payload["attachments"]))
                """, secret, bodyFile.path, String(decoding: try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: headers.map { ($0.name, $0.value) })), as: UTF8.self)]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }

        let good = try verify(body)
        #expect(good.status == 0, "\(good.output)")
        #expect(good.output == "inbox@eu-customer.example 3\n")
        var tampered = body
        tampered[tampered.count / 2] ^= 0x01
        let bad = try verify(tampered)
        #expect(bad.status != 0 && bad.output.contains("WebhookVerificationError"), "a changed byte must fail: \(bad.output)")
    }
}

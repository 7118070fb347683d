import Foundation
import MeridianCore
import Testing

/// Each message in Fixtures/messages gives exactly the payload in the .json beside it.
///
/// After a deliberate change, `MERIDIAN_UPDATE_FIXTURES=1 swift test --filter MessageCorpus` rewrites the
/// expected files; review their diff before committing.
@Suite("MIME corpus: payload per message")
struct MessageCorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/messages")

    static var messages: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasSuffix(".eml") }.sorted()
    }

    static func envelope(_ size: Int) -> MessageEnvelope {
        MessageEnvelope(
            to: "inbox@eu-customer.example", recipients: ["inbox@eu-customer.example", "other@eu-customer.example"],
            from: "sender@origin.example", heloDomain: "mail.origin.example", remoteIP: "192.0.2.10",
            tls: SMTPTLSInfo(version: "TLSv1.3", cipher: "TLS_AES_256_GCM_SHA384"), size: size)
    }

    @Test func corpusIsThere() {
        #expect(Self.messages.count >= 20)
    }

    @Test(arguments: messages)
    func payloadMatchesTheExpectedJSON(_ name: String) throws {
        let raw = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(name)))
        let message = MIMEMessage(parsing: raw)
        var payload = WebhookPayload.encode(
            envelope: Self.envelope(raw.count), message: message, content: MessageContent(message), configVersion: 7, pretty: true)
        payload.append(0x0A)
        let expectedURL = Self.directory.appendingPathComponent(name.replacingOccurrences(of: ".eml", with: ".json"))
        if ProcessInfo.processInfo.environment["MERIDIAN_UPDATE_FIXTURES"] == "1" {
            try Data(payload).write(to: expectedURL)
        }
        let expected = try [UInt8](Data(contentsOf: expectedURL))
        let actualLines = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLines = String(decoding: expected, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let firstDifference = zip(actualLines, expectedLines).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(firstDifference == nil && actualLines.count == expectedLines.count, "first difference at line \((firstDifference?.offset ?? min(actualLines.count, expectedLines.count)) + 1): \(firstDifference.map { "got \($0.element.0) expected \($0.element.1)" } ?? "length differs")")
        // The compact form is the same JSON.
        let compact = WebhookPayload.encode(envelope: Self.envelope(raw.count), message: message, content: MessageContent(message), configVersion: 7)
        let pretty = try JSONSerialization.jsonObject(with: Data(payload)) as? NSDictionary
        let plain = try JSONSerialization.jsonObject(with: Data(compact)) as? NSDictionary
        #expect(pretty == plain)
    }
}

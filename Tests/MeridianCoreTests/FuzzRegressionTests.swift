import Foundation
@testable import MeridianCore
import Testing

/// Replays every input in Fixtures/fuzz-regressions: hand-made hostile inputs and whatever `scripts/fuzz`
/// ever crashed on. Each must be handled the way the fuzz targets check (Fuzz/*.swift).
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static let directory = MessageCorpusTests.directory.deletingLastPathComponent().appendingPathComponent("fuzz-regressions")

    static func inputs(_ target: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(target).path)) ?? []).sorted()
    }

    @Test(arguments: inputs("mime"))
    func mimeInput(_ name: String) throws {
        let raw = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("mime/\(name)")))
        let message = MIMEMessage(parsing: raw)
        let payload = WebhookPayload.encode(
            envelope: MessageEnvelope(to: "a@b.example", recipients: [], from: "", heloDomain: "h", remoteIP: "192.0.2.1", tls: nil, size: raw.count),
            message: message, content: MessageContent(message))
        #expect(try JSONSerialization.jsonObject(with: Data(payload)) is NSDictionary)
    }

    /// The `auth` target: the first byte picks DNS answers, SPF, DKIM or DMARC (Fuzz/AUTHFuzzTarget.swift).
    @Test(arguments: inputs("auth"))
    func authInput(_ name: String) async throws {
        let bytes = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("auth/\(name)")))
        guard let first = bytes.first else { return }
        let input = Array(bytes.dropFirst())
        let text = String(decoding: input, as: UTF8.self)
        switch first % 4 {
        case 0:
            if let response = try? DNSMessage.parse(input) { #expect(response.records.count <= input.count / 11) }
        case 1:
            _ = try? SPFRecord(parsing: "v=spf1 " + text)
        case 2:
            let results = await DKIMVerifier(dns: TableDNS()).verify(input)
            #expect(results.count <= DKIMVerifier.signatureLimit)
        default:
            _ = try? DMARCRecord(parsing: "v=DMARC1; " + text)
            let result = await DMARCCheck(dns: TableDNS(), suffixes: PublicSuffixList(parsing: "com")).check(
                fromFields: [input], spf: SPFResult(.none, domain: ""), dkim: [])
            let labels = result.fromDomain.split(separator: ".").joined(separator: ".")
            #expect(result.organizationalDomain.map { labels.hasSuffix($0) } ?? true)
        }
    }

    /// The `bytes` target (Fuzz/BYTESFuzzTarget.swift): each vector loop answers as the loop without vectors.
    @Test(arguments: inputs("bytes"))
    func bytesInput(_ name: String) throws {
        let raw = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("bytes/\(name)")))
        for lineFeeds in [false, true] {
            let vector = TransferEncoding.decodeQuotedPrintable(raw[...], lineFeeds: lineFeeds)
            let bytewise = TransferEncoding.decodeQuotedPrintable(raw[...], lineFeeds: lineFeeds, vectors: false)
            #expect(vector.bytes == bytewise.bytes && vector.clean == bytewise.clean && vector.utf8 == bytewise.utf8)
        }
        #expect(Set(VectorInstructions.allCases.map { UTF8Validator.isValid(raw, vectors: $0) }).count == 1)
        let escaped = VectorInstructions.allCases.map { vectors in
            var bytes: [UInt8] = []
            raw.withUnsafeBufferPointer { JSONWriter.appendEscaped($0, to: &bytes, vectors: vectors) }
            return bytes
        }
        #expect(Set(escaped).count == 1)
        let general = Base64Lines(checking: raw[...], fixedLines: false)
        for vectors in VectorInstructions.allCases {
            let fast = Base64Lines(checking: raw[...], fixedLines: true, vectors: vectors)
            #expect(fast?.text(vectors: vectors) == general?.text && fast?.decodedSize == general?.decodedSize, "\(vectors)")
        }
        if let lines = Base64Lines(checking: raw[...]) { #expect(TransferEncoding.decodeBase64(raw[...]).bytes.count == lines.decodedSize) }
    }

    @Test(arguments: inputs("smtp"))
    func smtpInput(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent("smtp/\(name)")))
        guard let first = bytes.first else { return }
        var configuration = SMTPSessionConfiguration(hostname: "fuzz.example")
        configuration.maxMessageSize = 4096
        configuration.tlsAvailable = first & 1 == 1
        var transcript = SMTPTranscript(configuration: configuration)
        transcript.completesTLSHandshake = true
        let chunk = Int(first % 17) + 1
        for start in stride(from: 1, to: bytes.count, by: chunk) {
            transcript.send(Array(bytes[start..<min(bytes.count, start + chunk)]))
            for reply in transcript.lastReplies { #expect((200..<600).contains(reply.code)) }
        }
        for message in transcript.messages { #expect(message.data.count <= 4096) }
    }

    @Test func theHandMadeInputsAreThere() {
        #expect(Self.inputs("mime").count >= 4 && Self.inputs("smtp").count >= 3)
    }
}

import Foundation
import Testing

@testable import MeridianCore

@Suite("SMTP protocol record: the JSON line the node writes by hand")
struct SMTPProtocolRecordTests {
    /// What the node wrote with JSONEncoder before the hand-written line replaced it.
    func encoderLine(_ record: SMTPProtocolRecord) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(record)) + [0x0A]
    }

    func decoded(_ line: [UInt8]) throws -> SMTPProtocolRecord {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SMTPProtocolRecord.self, from: Data(line))
    }

    @Test func aFullSessionIsWrittenAsJSONEncoderWroteIt() throws {
        var record = SMTPProtocolRecord(
            session: "ses_0abc", node: "eu-1", startedAt: Date(timeIntervalSince1970: 1_796_438_645), clientIP: "192.0.2.7")
        record.endedAt = Date(timeIntervalSince1970: 1_796_438_647)
        record.tlsVersion = "TLSv1.3"
        record.tlsCipher = "TLS_AES_128_GCM_SHA256"
        record.lines = [
            .init(at: 0, from: "S", text: "220 mx.eu.example ESMTP"),
            .init(at: 3, from: "C", text: "EHLO client.example"),
            .init(at: 4, from: "S", text: "250-mx.eu.example\n250-PIPELINING\n250 STARTTLS"),
            .init(at: 1_500, from: "C", text: "MAIL FROM:<\"odd \\\\ quote\"@sender.example>"),
        ]
        #expect(record.jsonLine == (try encoderLine(record)))
        #expect(try decoded(record.jsonLine) == record)
    }

    @Test func aSessionWithoutTLSOrEndLeavesThoseKeysOut() throws {
        let record = SMTPProtocolRecord(session: "ses_1", node: "us-1", startedAt: Date(timeIntervalSince1970: 0), clientIP: "2001:db8::1")
        #expect(record.jsonLine == (try encoderLine(record)))
        #expect(String(decoding: record.jsonLine, as: UTF8.self)
            == #"{"client_ip":"2001:db8::1","lines":[],"node":"us-1","session":"ses_1","started_at":"1970-01-01T00:00:00Z"}"# + "\n")
    }

    @Test func hostileTextStaysOneLineAndReadsBackTheSame() throws {
        var record = SMTPProtocolRecord(session: "ses_2", node: "ap-1", startedAt: Date(timeIntervalSince1970: 1_700_000_000), clientIP: "198.51.100.9")
        let hostile = "RCPT TO:<a@b>\u{0}\u{1}\t\u{1F}\"\\ \r\n{\"forged\":true}\u{7F} é 日本 🙂"
        record.lines = [.init(at: 1, from: "C", text: hostile)]
        let line = record.jsonLine
        #expect(line.filter { $0 == 0x0A } == [0x0A])
        #expect(line.last == 0x0A)
        #expect(try decoded(line).lines.first?.text == hostile)
    }
}

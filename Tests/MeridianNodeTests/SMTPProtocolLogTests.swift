import Foundation
import Logging
import MeridianCore
import Testing

@testable import MeridianNode

/// The protocol log as data: what a data-subject request finds in it (and why an erasure leaves it), and the
/// retention of its day files.
@Suite("SMTP protocol log: data subjects and retention")
struct SMTPProtocolLogTests {
    static func session(_ id: String, from sender: String, at date: Date) -> SMTPProtocolRecord {
        var record = SMTPProtocolRecord(session: id, node: "eu-test", startedAt: date, clientIP: "198.51.100.7")
        record.lines = [
            .init(at: 0, from: "S", text: "220 eu.mx.test ESMTP Meridian"), .init(at: 3, from: "C", text: "EHLO mail.sender.example"),
            .init(at: 5, from: "C", text: "MAIL FROM:<\(sender)>"), .init(at: 6, from: "S", text: "250 2.1.0 OK"),
        ]
        record.endedAt = date.addingTimeInterval(1)
        return record
    }

    @Test("access includes the sessions naming the address; erasure keeps them and says why")
    func dataSubjects() async throws {
        let node = try await ErasureReceiptTests.node()
        let log = node.directives.protocolLog
        log.write(Self.session("ses_1", from: ErasureReceiptTests.subject.uppercased(), at: Date()))
        log.write(Self.session("ses_2", from: "bob@example.org", at: Date()))
        let access = try await node.directives.carryOut(QuarantineSubjectTests.directive(.access))
        #expect(access.classes.first { $0.dataClass == "smtp_protocol_logs" }?.found == 1)
        guard case .array(let sessions)? = access.data?["smtp_protocol_logs"] else {
            Issue.record("no protocol log in the export")
            return
        }
        #expect(sessions.count == 1)
        let erasure = try await node.directives.carryOut(QuarantineSubjectTests.directive(.erasure))
        let count = try #require(erasure.classes.first { $0.dataClass == "smtp_protocol_logs" })
        #expect(count.found == 1 && count.held == 1 && count.erased == 0)
        #expect(count.holdReasons.first?.contains("security of the service") == true)
        #expect(log.read(since: nil, until: nil, clientIP: nil, address: ErasureReceiptTests.subject, limit: 10).count == 1)
        await node.close()
    }

    @Test("a day's file goes once the whole day is past the period; reads filter by time, client and address")
    func retentionAndReads() throws {
        let directory = NSTemporaryDirectory() + "protocol-\(UUID().uuidString)"
        let log = try SMTPProtocolLog(dataDirectory: directory, node: "eu-test", logger: Logger(label: "test"))
        let now = Date()
        let old = now.addingTimeInterval(-400 * 86_400)
        log.write(Self.session("ses_old", from: "a@x.example", at: old))
        log.write(Self.session("ses_new", from: "b@x.example", at: now))
        #expect(log.days().count == 2)
        #expect(log.read(since: now.addingTimeInterval(-60), until: nil, clientIP: nil, address: nil, limit: 10).map(\.session) == ["ses_new"])
        #expect(log.read(since: nil, until: nil, clientIP: "203.0.113.1", address: nil, limit: 10).isEmpty)
        #expect(log.read(since: nil, until: nil, clientIP: nil, address: "A@X.example", limit: 10).map(\.session) == ["ses_old"])
        #expect(log.expire(before: now.addingTimeInterval(-365 * 86_400)) == 1)
        #expect(log.read(since: nil, until: nil, clientIP: nil, address: nil, limit: 10).map(\.session) == ["ses_new"])
        let attributes = try FileManager.default.attributesOfItem(atPath: log.directory + "/" + log.days()[0] + ".jsonl")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }
}

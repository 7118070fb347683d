import Foundation
import Logging
import MeridianCore
import Testing

@testable import MeridianNode

@Suite("Metadata store: per-recipient records, queries, retention")
struct MetadataStoreTests {
    static let day: TimeInterval = 86_400

    static func record(_ id: String, customer: String = "cus_a", at date: Date, ip: String = "198.51.100.77", from: String = "a@sender.example")
        -> DeliveryRecord
    {
        let envelope = MessageEnvelope(
            to: "inbox@acme.example", recipients: ["inbox@acme.example"], from: from, heloDomain: "client.test", remoteIP: ip, tls: nil,
            size: 10)
        let metadata = MessageMetadata(
            envelope: envelope, message: MIMEMessage(parsing: Array("Subject: hi\r\nMessage-ID: <\(id)@x>\r\n\r\nbody".utf8)),
            receivedAt: date, configVersion: 1, redactions: [])
        return DeliveryRecord(
            messageID: id, recipient: 0, customerID: customer, webhookID: "msg_\(id)", mode: .queued, status: .queued, attempts: 0,
            nextAttemptAt: nil, completedAt: nil, finalReason: nil, metadata: metadata)
    }

    static func open() async throws -> MetadataStore {
        try await MetadataStore.open(path: NSTemporaryDirectory() + "metadata-\(UUID().uuidString).sqlite", logger: Logger(label: "test"))
    }

    @Test("queries narrow by customer, time, Message-ID, sender and recipient")
    func queries() async throws {
        let store = try await Self.open()
        let now = Date()
        await store.insert(Self.record("m1", at: now.addingTimeInterval(-10)))
        await store.insert(Self.record("m2", at: now, from: "B@other.example"))
        await store.insert(Self.record("m3", customer: "cus_b", at: now))
        var query = MessageQuery(customerID: "cus_a")
        #expect(try await store.query(query).map(\.messageID) == ["m2", "m1"])
        query.sender = "b@OTHER.example"
        #expect(try await store.query(query).map(\.messageID) == ["m2"])
        query = MessageQuery(customerID: "cus_a")
        query.messageID = "<m1@x>"
        #expect(try await store.query(query).map(\.messageID) == ["m1"])
        query = MessageQuery(customerID: "cus_a")
        query.since = now.addingTimeInterval(-5)
        #expect(try await store.query(query).map(\.messageID) == ["m2"])
        query = MessageQuery(customerID: "cus_a")
        query.recipient = "nobody@acme.example"
        #expect(try await store.query(query).isEmpty)
        try await store.close()
    }

    @Test("status and subject filters, and cursors that page through records of the same millisecond without a gap or a repeat")
    func statusSubjectAndCursors() async throws {
        let store = try await Self.open()
        // Seven records in three milliseconds: a page boundary falls inside a millisecond.
        let base = Date(timeIntervalSince1970: 1_790_000_000.123)
        for (index, offset) in [0.0, 0.0, 0.0, 0.001, 0.001, 0.002, 0.002].enumerated() {
            var record = Self.record("m\(index)", at: base.addingTimeInterval(offset))
            record.status = index.isMultiple(of: 2) ? .delivered : .queued
            await store.insert(record)
        }
        await store.flush()
        var query = MessageQuery(customerID: "cus_a")
        let all = try await store.query(query).map(\.messageID)
        #expect(all == ["m5", "m6", "m3", "m4", "m0", "m1", "m2"])
        query.limit = 2
        var pages: [String] = []
        while true {
            let page = try await store.query(query)
            pages += page.map(\.messageID)
            guard page.count == query.limit, let last = page.last else { break }
            query.after = MessageQuery.Cursor(after: last)
            #expect(MessageQuery.Cursor(query.after!.description) == query.after, "a cursor reads back as written")
        }
        #expect(pages == all)
        query = MessageQuery(customerID: "cus_a")
        query.status = .queued
        #expect(try await store.query(query).map(\.messageID) == ["m5", "m3", "m1"])
        query = MessageQuery(customerID: "cus_a")
        query.subject = "HI"
        #expect(try await store.query(query).count == 7)
        query.subject = "%"
        #expect(try await store.query(query).isEmpty, "the subject is matched as typed, not as a LIKE pattern")
        // What the node reads from the coordinator's query string, and what it refuses.
        let read = try MessageQuery(parameters: [("customer_id", "cus_a"), ("status", "failed"), ("subject", "a b"), ("after", "17.eml_x.0")])
        #expect(read.status == .failed && read.subject == "a b" && read.after == MessageQuery.Cursor(receivedAtMillis: 17, messageID: "eml_x", recipient: 0))
        #expect(throws: CoreError.self) { try MessageQuery(parameters: [("customer_id", "c"), ("status", "lost")]) }
        #expect(throws: CoreError.self) { try MessageQuery(parameters: [("customer_id", "c"), ("after", "x.y")]) }
        try await store.close()
    }

    @Test("a subject's erasure removes its deliveries and attempts, keeps held customers', and a late attempt writes nothing")
    func subjectErasure() async throws {
        let store = try await Self.open()
        let now = Date()
        await store.insert(Self.record("m1", at: now, from: "Alice@Example.org"))
        await store.insert(Self.record("m2", customer: "cus_held", at: now, from: "alice@example.org"))
        await store.insert(Self.record("m3", at: now, from: "bob@example.org"))
        let attempt = DeliveryAttempt(at: now, durationMilliseconds: 5, statusCode: 503, outcome: "temporary", detail: "down")
        for id in ["m1", "m2", "m3"] { await store.recordAttempt(DeliveryKey(messageID: id, recipient: 0), number: 1, attempt) }
        let subject = SubjectIdentity.email("alice@example.org")

        let found = try await store.records(of: subject)
        #expect(Set(found.deliveries.map(\.messageID)) == ["m1", "m2"] && found.attempts.count == 2)
        let erased = try await store.erase(subject, holding: ["cus_held"])
        #expect(erased == .init(erasedDeliveries: 1, erasedAttempts: 1, heldDeliveries: 1, heldAttempts: 1, heldCustomers: ["cus_held"]))
        // An attempt that was in flight during the erasure leaves no orphan row behind.
        await store.recordAttempt(DeliveryKey(messageID: "m1", recipient: 0), number: 2, attempt)
        let left = try await store.records(of: subject)
        #expect(left.deliveries.map(\.messageID) == ["m2"] && left.attempts.count == 1)
        #expect(try await store.delivery(DeliveryKey(messageID: "m1", recipient: 0)) == nil)
        #expect(try await store.records(of: .email("bob@example.org")).deliveries.count == 1)
        #expect(try await store.erase(.customer("cus_a"), holding: []).erasedDeliveries == 1, "bob's message is the account's last")
        try await store.close()
    }

    @Test("retention deletes old finished records and attempts, masks old IPs, keeps queued mail")
    func retention() async throws {
        let store = try await Self.open()
        let now = Date()
        let region = try RegionCatalog.load(directory: TestPaths.root + "/Regions").region(RegionID("eu")!)!
        await store.insert(Self.record("old", at: now.addingTimeInterval(-61 * Self.day)))
        await store.updateStatus(DeliveryKey(messageID: "old", recipient: 0), .delivered, attempts: 1, completedAt: now)
        await store.insert(Self.record("old-queued", at: now.addingTimeInterval(-61 * Self.day)))
        await store.insert(Self.record("week", at: now.addingTimeInterval(-8 * Self.day)))
        await store.recordAttempt(
            DeliveryKey(messageID: "week", recipient: 0), number: 1,
            DeliveryAttempt(at: now.addingTimeInterval(-15 * Self.day), durationMilliseconds: 5, statusCode: 503, outcome: "temporary", detail: "x"))
        await store.insert(Self.record("fresh", at: now.addingTimeInterval(-1 * Self.day), ip: "2001:db8:1:2:3:4:5:6"))

        let result = try await store.applyRetention(region.retention, masking: region.ipMasking, now: now)
        #expect(result.deletedRecords == 1)
        #expect(result.deletedAttempts == 1)
        #expect(result.maskedAddresses == 2)
        var query = MessageQuery(customerID: "cus_a")
        query.limit = 10
        let records = Dictionary(uniqueKeysWithValues: try await store.query(query).map { ($0.messageID, $0) })
        #expect(Set(records.keys) == ["old-queued", "week", "fresh"])
        #expect(records["week"]?.metadata.senderIP == "198.51.0.0")
        #expect(records["fresh"]?.metadata.senderIP == "2001:db8:1:2:3:4:5:6")
        #expect(try await store.delivery(DeliveryKey(messageID: "week", recipient: 0))?.1.isEmpty == true)
        // A second run has nothing left to do.
        #expect(try await store.applyRetention(region.retention, masking: region.ipMasking, now: now) == .init())
        try await store.close()
    }

    /// A store in a directory of its own, so that its pending and rejected files are its own too.
    static func openInDirectory() async throws -> (MetadataStore, String) {
        let directory = NSTemporaryDirectory() + "metadata-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/metadata.sqlite"
        return (try await MetadataStore.open(path: path, logger: Logger(label: "test")), path)
    }

    static func status(_ store: MetadataStore, _ id: String) async throws -> DeliveryStatus? {
        try await store.delivery(DeliveryKey(messageID: id, recipient: 0))?.0.status
    }

    @Test("a write the database refuses for its content is set aside with the error; the rest of its batch and later ones are written")
    func refusedWriteIsSetAside() async throws {
        let (store, _) = try await Self.openInDirectory()
        let now = Date()
        for id in ["m1", "bad", "m2"] { await store.insert(Self.record(id, at: now)) }
        await store.flush()
        // A trigger stands in for a row the database refuses (a constraint, malformed JSON): SQLITE_CONSTRAINT.
        _ = try await store.connection.query(
            "CREATE TRIGGER poison BEFORE UPDATE ON deliveries WHEN NEW.message_id = 'bad' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")
        for id in ["m1", "bad", "m2"] {
            await store.updateStatus(DeliveryKey(messageID: id, recipient: 0), .delivered, attempts: 1, completedAt: now)
        }
        let attempt = DeliveryAttempt(at: now, durationMilliseconds: 4, statusCode: 200, outcome: "delivered", detail: "ok")
        await store.recordAttempt(DeliveryKey(messageID: "m2", recipient: 0), number: 1, attempt)
        await store.flush()
        #expect(try await Self.status(store, "m1") == .delivered)
        #expect(try await Self.status(store, "m2") == .delivered)
        #expect(try await store.delivery(DeliveryKey(messageID: "m2", recipient: 0))?.1.map(\.outcome) == ["delivered"])
        #expect(try await Self.status(store, "bad") == .queued)

        let lines = try String(contentsOfFile: store.setAside.path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("poisoned row") == true)
        #expect(lines.first?.contains("\"bad\"") == true)
        let mode = try FileManager.default.attributesOfItem(atPath: store.setAside.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        await store.insert(Self.record("m3", at: now))
        await store.flush()
        #expect(try await Self.status(store, "m3") == .queued)

        // Set-aside writes are metadata too: erasure (but not of a held customer's) and retention reach them.
        _ = try await store.connection.query(
            "CREATE TRIGGER poison_insert BEFORE INSERT ON deliveries WHEN NEW.message_id = 'evil' BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")
        await store.insert(Self.record("evil", at: now, from: "Eve@Example.org"))
        await store.flush()
        #expect(try String(contentsOfFile: store.setAside.path, encoding: .utf8).split(separator: "\n").count == 2)
        // An access request finds it, as written; another subject's does not.
        let found = try await store.records(of: .email("eve@example.org"))
        #expect(found.deliveries.isEmpty && found.setAside.count == 1)
        if case .object(let line) = found.setAside.first, case .string(let error) = line["error"] {
            #expect(error.contains("poisoned row"))
        } else {
            Issue.record("the set-aside write is not its JSON line: \(found.setAside)")
        }
        #expect(try await store.records(of: .email("someone@example.org")).setAside.isEmpty)
        #expect(try await store.erase(.email("eve@example.org"), holding: ["cus_a"]).erasedSetAside == 0)
        #expect(try await store.erase(.email("eve@example.org"), holding: []).erasedSetAside == 1)
        let left = try String(contentsOfFile: store.setAside.path, encoding: .utf8)
        #expect(left.split(separator: "\n").count == 1 && !left.lowercased().contains("eve@example.org") && left.contains("\"bad\""))
        for trigger in ["poison", "poison_insert"] { _ = try await store.connection.query("DROP TRIGGER \(trigger)") }
        let region = try RegionCatalog.load(directory: TestPaths.root + "/Regions").region(RegionID("eu")!)!
        #expect(try await store.applyRetention(region.retention, masking: region.ipMasking, now: now).deletedSetAside == 0)
        let later = now.addingTimeInterval(Double(region.retention.messageMetadata.seconds) + Self.day)
        #expect(try await store.applyRetention(region.retention, masking: region.ipMasking, now: later).deletedSetAside == 1)
        #expect(!FileManager.default.fileExists(atPath: store.setAside.path))
        try await store.close()
        #expect(!FileManager.default.fileExists(atPath: store.pending.path))
    }

    @Test("writes the database cannot take by shutdown are kept in a file and written at the next start; an unreadable line is set aside")
    func pendingWritesSurviveShutdown() async throws {
        let (store, path) = try await Self.openInDirectory()
        let now = Date()
        await store.insert(Self.record("m1", at: now))
        await store.flush()
        // Another connection holds the write lock past the 5 s busy timeout while the node shuts down.
        let other = try await MetadataStore.open(path: path, logger: Logger(label: "test"))
        _ = try await other.connection.query("BEGIN EXCLUSIVE")
        await store.updateStatus(DeliveryKey(messageID: "m1", recipient: 0), .delivered, attempts: 1, completedAt: now, serverResponse: "200 OK")
        await store.insert(Self.record("m2", at: now))
        try await store.close()
        let pending = try String(contentsOfFile: store.pending.path, encoding: .utf8)
        #expect(pending.split(separator: "\n").count == 2)
        #expect(try FileManager.default.attributesOfItem(atPath: store.pending.path)[.posixPermissions] as? Int == 0o600)
        _ = try await other.connection.query("ROLLBACK")
        try await other.close()

        try "not a write\n".data(using: .utf8).map { data in
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: store.pending.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: data)
            try handle.close()
        }
        let reopened = try await MetadataStore.open(path: path, logger: Logger(label: "test"))
        #expect(try await Self.status(reopened, "m1") == .delivered)
        #expect(try await reopened.delivery(DeliveryKey(messageID: "m1", recipient: 0))?.0.metadata.serverResponse == "200 OK")
        #expect(try await Self.status(reopened, "m2") == .queued)
        #expect(!FileManager.default.fileExists(atPath: reopened.pending.path))
        let setAside = try String(contentsOfFile: reopened.setAside.path, encoding: .utf8)
        #expect(setAside.split(separator: "\n").count == 1 && setAside.contains("\"line\":\"not a write\""))
        try await reopened.close()
    }
}

enum TestPaths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

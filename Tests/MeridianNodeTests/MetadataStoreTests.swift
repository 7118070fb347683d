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
        var query = MetadataQuery(customerID: "cus_a")
        #expect(try await store.query(query).map(\.messageID) == ["m2", "m1"])
        query.sender = "b@OTHER.example"
        #expect(try await store.query(query).map(\.messageID) == ["m2"])
        query = MetadataQuery(customerID: "cus_a")
        query.messageID = "<m1@x>"
        #expect(try await store.query(query).map(\.messageID) == ["m1"])
        query = MetadataQuery(customerID: "cus_a")
        query.since = now.addingTimeInterval(-5)
        #expect(try await store.query(query).map(\.messageID) == ["m2"])
        query = MetadataQuery(customerID: "cus_a")
        query.recipient = "nobody@acme.example"
        #expect(try await store.query(query).isEmpty)
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
        var query = MetadataQuery(customerID: "cus_a")
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
}

enum TestPaths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}

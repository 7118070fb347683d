import Foundation
import Logging
import MeridianCore
import Prometheus
import Testing

@testable import MeridianNode

@Suite("Erasure receipts: a directive carried out again still counts what the first pass erased")
struct ErasureReceiptTests {
    static let subject = "alice@example.org"

    /// A node on a data directory of its own, with no bundle and nothing listening: the directive path only.
    static func node() async throws -> RegionalNode {
        let directory = NSTemporaryDirectory() + "node-\(UUID().uuidString)"
        let region = try RegionCatalog.load(directory: TestPaths.root + "/Regions").region(RegionID("eu")!)!
        let configuration = NodeConfiguration(region: region, nodeID: "eu-test", dataDirectory: directory, hostname: "localhost")
        try TestPKI.shared.enrollment(node: "eu-test", region: region.id).save(directory: configuration.identityDirectory)
        return try await RegionalNode.build(configuration, registry: PrometheusCollectorRegistry(), logger: Logger(label: "test"))
    }

    static func erasure(_ requestID: String) -> DataSubjectDirective {
        DataSubjectDirective(
            requestID: requestID, action: .erasure, subject: .email(subject), holds: [], issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(DataSubjectDirective.lifetime))
    }

    static func metadata(_ receipt: DirectiveReceipt) -> DataClassCount? {
        receipt.classes.first { $0.dataClass == "message_metadata" }
    }

    @Test("the second pass of a request counts both passes, another request only its own; the journal survives a restart and goes after 120 days")
    func secondPass() async throws {
        let node = try await Self.node()
        let now = Date()
        await node.store.insert(MetadataStoreTests.record("m1", at: now, from: Self.subject))
        await node.store.insert(MetadataStoreTests.record("m2", at: now, from: "bob@example.org"))
        await node.store.flush()

        let first = try await node.directives.carryOut(Self.erasure("dsr_1"))
        #expect(Self.metadata(first) == DataClassCount(dataClass: "message_metadata", found: 1, erased: 1))
        // The receipt was lost on its way: the coordinator sends the directive again.
        let again = try await node.directives.carryOut(Self.erasure("dsr_1"))
        #expect(Self.metadata(again) == DataClassCount(dataClass: "message_metadata", found: 1, erased: 1))
        // Mail that arrived between the passes is erased by the second and counted with the first's.
        await node.store.insert(MetadataStoreTests.record("m3", at: now, from: Self.subject))
        await node.store.flush()
        let third = try await node.directives.carryOut(Self.erasure("dsr_1"))
        #expect(Self.metadata(third) == DataClassCount(dataClass: "message_metadata", found: 2, erased: 2))
        // Another request is its own: it found nothing left.
        let other = try await node.directives.carryOut(Self.erasure("dsr_2"))
        #expect(Self.metadata(other) == DataClassCount(dataClass: "message_metadata", found: 0, erased: 0))
        #expect(try await node.store.delivery(DeliveryKey(messageID: "m2", recipient: 0)) != nil, "another sender's record stays")
        #expect(try await node.store.erasureReceipt(of: "dsr_1")?.classes == third.classes)

        await node.close()

        // The journal is in the metadata store: a restart keeps it, and retention drops a receipt after its period.
        let store = try await MetadataStore.open(
            path: (node.configuration.dataDirectory as NSString).appendingPathComponent("metadata.sqlite"), logger: Logger(label: "test"))
        #expect(try await store.erasureReceipt(of: "dsr_1")?.classes == third.classes)
        let region = node.region
        _ = try await store.applyRetention(region.retention, masking: region.ipMasking, now: now.addingTimeInterval(119 * 86_400))
        #expect(try await store.erasureReceipt(of: "dsr_1") != nil)
        _ = try await store.applyRetention(region.retention, masking: region.ipMasking, now: now.addingTimeInterval(121 * 86_400))
        #expect(try await store.erasureReceipt(of: "dsr_1") == nil)
        try await store.close()
    }
}

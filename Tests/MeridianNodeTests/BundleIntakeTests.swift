import Crypto
import Foundation
import Logging
import MeridianCore
import Prometheus
import Testing

@testable import MeridianNode

@Suite("Bundle intake: what a node ACKs, what it NACKs, and the last-known-good it keeps")
struct BundleIntakeTests {
    static func customer(_ id: String) -> [String: Any] {
        TestNode.customer(id, domain: "\(id.dropFirst(4)).example", webhook: "https://hooks.example/\(id)")
    }

    /// A node built from `configuration` for `body`, closed after it (its directory locks go with it).
    static func withNode(_ configuration: NodeConfiguration, _ body: (RegionalNode) async throws -> Void) async throws {
        let node = try await RegionalNode.build(configuration, logger: Logger(label: "test"))
        do {
            try await body(node)
        } catch {
            await node.close()
            throw error
        }
        await node.close()
    }

    @Test("a newer bundle is applied and kept owner-only; the same again is acknowledged; an older one is refused")
    func versions() async throws {
        let test = try TestNode(bundle: nil)
        let node = try await RegionalNode.build(test.configuration, logger: Logger(label: "test"))
        #expect(node.config.version == 0)
        let two = BundleReport(status: .ack, offered: 2, version: 2, error: nil)
        #expect(node.bundles.offer(try TestNode.bundle(version: 2, customers: [Self.customer("cus_a")]), from: "test") == two)
        #expect(node.config.version == 2 && node.config.directory.customer("cus_a") != nil)
        let mode = try FileManager.default.attributesOfItem(atPath: test.configuration.lastKnownGoodPath)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the last-known-good holds webhook secrets")
        #expect(node.bundles.offer(try TestNode.bundle(version: 2, customers: []), from: "test") == two, "the same version changes nothing")
        #expect(node.config.directory.customer("cus_a") != nil)
        let older = node.bundles.offer(try TestNode.bundle(version: 1, customers: []), from: "test")
        #expect(older.status == .nack && older.version == 2 && older.offered == 1)
        let broken = node.bundles.offer(Data("{not json".utf8), from: "test")
        #expect(broken.status == .nack && broken.offered == nil && broken.version == 2)
        await node.close()
    }

    @Test("only bundles signed with the key the node got when it joined are taken; a start falls back to the last-known-good")
    func signedOnly() async throws {
        let test = try TestNode(bundle: nil)
        try await Self.withNode(test.configuration) { node in
            let plain = try TestNode.plainBundle(version: 3, customers: [Self.customer("cus_a")])
            let unsigned = node.bundles.offer(plain, from: "test")
            #expect(unsigned.status == .nack && unsigned.error?.contains("signed") == true, "there is no unsigned mode")
            let bundle = try NodeBundle.decode(plain, expectedRegion: RegionID("eu")!)
            #expect(node.bundles.offer(try TestNode.bundle(version: 3, customers: [Self.customer("cus_a")]), from: "test").status == .ack)
            let stranger = try JSONEncoder().encode(try SignedBundle.sign(bundle, with: Curve25519.Signing.PrivateKey()))
            let refused = node.bundles.offer(stranger, from: "test")
            #expect(refused.status == .nack && refused.error?.isEmpty == false)
        }

        // An unusable bundle file at the next start: the node starts from the last-known-good.
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: test.configuration.bundlePath))
        try await Self.withNode(test.configuration) { restarted in
            #expect(restarted.config.version == 3)
        }
        // With neither usable, the node does not start, and says which file.
        try FileManager.default.removeItem(atPath: test.configuration.lastKnownGoodPath)
        await #expect(throws: NodeError(.bundleUnusable)) { try await RegionalNode.build(test.configuration, logger: Logger(label: "test")) }
    }
}

@Suite("Config deltas at the node: applied in order, kept with the last-known-good, replayed at a start")
struct NodeDeltaTests {
    static func plain(_ version: Int, _ customers: [[String: Any]]) throws -> NodeBundle {
        try NodeBundle.decode(try TestNode.plainBundle(version: version, customers: customers), expectedRegion: RegionID("eu")!)
    }

    static func signed(_ delta: NodeBundleDelta) throws -> Data {
        Data(try SignedBundle.signedJSON(canonical: delta.canonicalJSON(), with: TestPKI.shared.bundleKey))
    }

    static func update(snapshot: Data? = nil, _ deltas: [NodeBundleDelta]) throws -> Data {
        ConfigUpdate.json(snapshot: snapshot, deltas: try deltas.map(signed))
    }

    static var v2: [[String: Any]] { [BundleIntakeTests.customer("cus_a"), BundleIntakeTests.customer("cus_b")] }
    static var v3: [[String: Any]] { [BundleIntakeTests.customer("cus_a"), BundleIntakeTests.customer("cus_c")] }
    static var v4: [[String: Any]] { [TestNode.customer("cus_a", domain: "a.example", webhook: "https://hooks.example/moved"), BundleIntakeTests.customer("cus_c")] }

    static func deltas() throws -> [NodeBundleDelta] {
        [NodeBundleDelta.between(try plain(2, v2), try plain(3, v3)), NodeBundleDelta.between(try plain(3, v3), try plain(4, v4))]
    }

    @Test("deltas apply in order to the version they name; another base is refused; a restart replays them, up to a line cut short")
    func deltasAndRestart() async throws {
        let test = try TestNode(bundle: nil)
        try await BundleIntakeTests.withNode(test.configuration) { node in
            #expect(node.bundles.offer(try TestNode.bundle(version: 2, customers: Self.v2), from: "test").status == .ack)
            let report = node.bundles.offer(try Self.update(try Self.deltas()), from: "test")
            #expect(report == BundleReport(status: .ack, offered: 4, version: 4, error: nil))
            #expect(node.config.directory.customer("cus_b") == nil && node.config.directory.customer("cus_c") != nil)
            #expect(node.config.directory.customer("cus_a")?.webhook.url == "https://hooks.example/moved")
            #expect(node.config.directory.bundle() == (try Self.plain(4, Self.v4)))
            // The same again changes nothing.
            #expect(node.bundles.offer(try Self.update(try Self.deltas()), from: "test").status == .ack)
            // A delta made for another version than the one in force: refused, naming both; the version stays.
            let skipped = NodeBundleDelta(region: RegionID("eu")!, baseVersion: 7, version: 8)
            let refused = node.bundles.offer(try Self.update([skipped]), from: "test")
            #expect(refused.status == .nack && refused.version == 4)
            #expect(refused.error == "the delta applies to version 7, and version 4 is in force")
            // A delta signed by another key.
            let forged = ConfigUpdate.json(
                snapshot: nil,
                deltas: [Data(try SignedBundle.signedJSON(
                    canonical: NodeBundleDelta(region: RegionID("eu")!, baseVersion: 4, version: 5, removedCustomers: ["cus_a"]).canonicalJSON(),
                    with: Curve25519.Signing.PrivateKey()))])
            #expect(node.bundles.offer(forged, from: "test").status == .nack)
            #expect(node.config.version == 4 && node.config.directory.customer("cus_a") != nil)
        }
        let log = test.configuration.lastKnownGoodPath + ".deltas"
        #expect(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count == 2)
        #expect(try FileManager.default.attributesOfItem(atPath: log)[.posixPermissions] as? Int == 0o600)
        // A start with no bundle file: the last-known-good snapshot, then the deltas kept.
        try await BundleIntakeTests.withNode(test.configuration) { restarted in
            #expect(restarted.config.version == 4 && restarted.config.directory.customer("cus_c") != nil)
        }
        // A crash that cut the last line short: the start stops at the last whole delta.
        var lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[1] = String(lines[1].prefix(40))
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)
        try await BundleIntakeTests.withNode(test.configuration) { restarted in
            #expect(restarted.config.version == 3)
        }
    }

    @Test("a new node takes a snapshot with the deltas after it at once, and keeps the whole as its last-known-good")
    func snapshotAndDeltas() async throws {
        let test = try TestNode(bundle: nil)
        try await BundleIntakeTests.withNode(test.configuration) { node in
            let update = try Self.update(snapshot: try TestNode.bundle(version: 2, customers: Self.v2), try Self.deltas())
            #expect(node.bundles.offer(update, from: "test") == BundleReport(status: .ack, offered: 4, version: 4, error: nil))
            #expect(node.config.directory.bundle() == (try Self.plain(4, Self.v4)))
            // A snapshot older than the version in force, even with deltas, is refused.
            let old = try Self.update(snapshot: try TestNode.bundle(version: 2, customers: Self.v2), [try Self.deltas()[0]])
            #expect(node.bundles.offer(old, from: "test").status == .nack)
        }
        #expect(!FileManager.default.fileExists(atPath: test.configuration.lastKnownGoodPath + ".deltas"))
        try await BundleIntakeTests.withNode(test.configuration) { restarted in
            #expect(restarted.config.version == 4)
        }
    }
}

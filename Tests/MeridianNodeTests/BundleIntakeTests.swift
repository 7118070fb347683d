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

import Crypto
import Foundation
import Logging
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Config versions, publishing and node records")
struct ConfigPublisherTests {
    static func publisher(_ store: any SQLStore, key: Curve25519.Signing.PrivateKey, debounce: Duration = .milliseconds(2)) -> ConfigPublisher {
        ConfigPublisher(
            customers: SQLCustomerRepository(store: store), config: ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets),
            nodes: NodeRepository(store: store),
            compiler: ConfigCompiler(catalog: TestStores.regions, secrets: ConfigCompilerTests.secrets), key: key,
            pusher: NodePusher(credentials: TestStores.linkCredentials), authority: TestStores.authority, debounce: debounce,
            logger: Logger(label: "test"))
    }

    @Test("versions grow only when the content changes, and each region's bundle verifies", arguments: StoreKind.allCases)
    func versions(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let key = Curve25519.Signing.PrivateKey()
            let publisher = Self.publisher(store, key: key)
            let config = ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets)
            let first = try await publisher.publish()
            #expect(first.version == 1 && first.isNew)
            let again = try await publisher.publish()
            #expect(again.version == 1 && !again.isNew, "the same state is the same version, as after a restart")

            let customers = SQLCustomerRepository(store: store)
            try await customers.create(try ConfigCompilerTests.customer("cus_1", "one.example", region: "eu"), by: RepositoryTests.admin)
            try await customers.create(try ConfigCompilerTests.customer("cus_2", "two.example", region: nil), by: RepositoryTests.admin)
            let second = try await publisher.publish()
            #expect(second.version == 2 && second.isNew)
            let bundle = try #require(try await config.newest(for: RegionID("eu")!, key: key.publicKey))
            #expect(bundle.version == 2 && bundle.customers.map(\.id) == ["cus_1", "cus_2"])
            let us = try #require(try await config.newest(for: RegionID("us")!, key: key.publicKey))
            #expect(us.customers.map(\.id) == ["cus_2"] && us.elsewhere.map(\.domain) == ["one.example"])
            // The stored copy holds webhook secrets, so it is sealed like every secret at rest.
            let raw = try await store.withSession { db in
                try await db.raw("SELECT signed FROM config_bundles WHERE region = 'eu'").first()!.decode(column: "signed", as: String.self)
            }
            #expect(raw.hasPrefix("v1:") && !raw.contains("payload") && !raw.contains("whsec_"))

            // Closing an account removes it from the next version.
            _ = try await customers.close("cus_2", at: Date(), purgeAfter: Date().addingTimeInterval(86_400), reason: nil, by: RepositoryTests.admin)
            #expect(try await customers.allActive().map(\.id) == ["cus_1"])
            #expect(try await publisher.publish().version == 3)
            let latest = try #require(try await config.latest())
            #expect(latest.version == 3)
            let published = try await SQLAuditLog(store: store).entries(after: 0, limit: 100).filter { $0.action == "config.publish" }
            #expect(published.map(\.target) == ["config/1", "config/2", "config/3"])
        }
    }

    @Test("publishes asked for at the same moment store one version, not one each with the same content", arguments: StoreKind.allCases)
    func concurrentPublishes(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let publisher = Self.publisher(store, key: Curve25519.Signing.PrivateKey())
            try await SQLCustomerRepository(store: store).create(try ConfigCompilerTests.customer("cus_1", "one.example", region: "eu"), by: RepositoryTests.admin)
            let outcomes = try await withThrowingTaskGroup(of: ConfigPublisher.Outcome.self) { group in
                for _ in 0..<4 { group.addTask { try await publisher.publish() } }
                var all: [ConfigPublisher.Outcome] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.map(\.version) == [1, 1, 1, 1])
            #expect(outcomes.filter(\.isNew).count == 1)
            #expect(try await ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets).latest()?.version == 1)
        }
    }

    @Test("changes close together become one version", arguments: [StoreKind.sqlite])
    func coalescing(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let publisher = Self.publisher(store, key: Curve25519.Signing.PrivateKey(), debounce: .milliseconds(200))
            #expect(try await publisher.publish().version == 1)
            let customers = SQLCustomerRepository(store: store)
            // Five changes within the debounce window (made first, so that a slow disk cannot spread them out).
            for index in 0..<5 {
                try await customers.create(try ConfigCompilerTests.customer("cus_\(index)", "c\(index).example", region: nil), by: RepositoryTests.admin)
            }
            // The publisher's loop, as its service runs it.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await publisher.run() }
                for _ in 0..<5 { publisher.changed() }
                try await Task.sleep(for: .milliseconds(50))
                await publisher.settled()
                group.cancelAll()
            }
            #expect(try await ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets).latest()?.version == 2)
        }
    }

    @Test("nodes: ACK moves the applied version, NACK and failures keep it", arguments: StoreKind.allCases)
    func nodes(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let nodes = NodeRepository(store: store)
            try await nodes.joined("eu-1", region: "eu", controlURL: "https://10.0.0.1:9101")
            try await nodes.record(node: "eu-1", result: .ack, version: 4, error: nil, at: Date())
            try await nodes.record(node: "eu-1", result: .nack, version: 4, error: "signature does not verify", at: Date())
            var node = try #require(try await nodes.nodes().first)
            #expect(node.appliedVersion == 4 && node.lastResult == .nack && node.lastError == "signature does not verify")
            try await nodes.record(node: "eu-1", result: .unreachable, version: nil, error: "connection refused", at: Date())
            node = try #require(try await nodes.nodes().first)
            #expect(node.appliedVersion == 4 && node.lastResult == .unreachable)
            #expect(AdminAPI.state(of: node, newest: 5) == .unreachable)
            try await nodes.record(node: "eu-1", result: .ack, version: 5, error: nil, at: Date())
            node = try #require(try await nodes.nodes().first)
            #expect(AdminAPI.state(of: node, newest: 5) == .inSync && node.lastError == nil)
            #expect(AdminAPI.state(of: node, newest: 6) == .behind)
            // Pulls are not audited; enrollment and joining are.
            try await nodes.seen("eu-1", at: Date())
            let actions = try await SQLAuditLog(store: store).entries(after: 0, limit: 100).map(\.action)
            #expect(actions == ["node.enroll", "node.join"])
        }
    }

    @Test("a retired node is forgotten through the API by an admin, audited, and comes back only when enrolled again", arguments: StoreKind.allCases)
    func forget(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let nodes = harness.coordinator.nodes
            try await nodes.joined("eu-2", region: "eu", controlURL: "https://10.0.0.2:9101")
            try await nodes.record(node: "eu-2", result: .unreachable, version: nil, error: "connection refused", at: Date())
            let admin = harness.tokens[.admin]!
            for role in [Role.support, .dpo, .auditor, .customer] {
                try await client.json(.delete, "/v1/nodes/eu-2", token: harness.tokens[role]!, expect: .forbidden)
            }
            let forgotten = try await client.json(.delete, "/v1/nodes/eu-2", token: admin)
            #expect(forgotten["id"] as? String == "eu-2" && forgotten["state"] as? String == "unreachable")
            #expect(try await nodes.nodes().isEmpty)
            let missing = try await client.json(.delete, "/v1/nodes/eu-2", token: admin, expect: .notFound)
            #expect((missing["detail"] as? String)?.contains("no node with id eu-2") == true)
            let audit = try await client.json(.get, "/v1/audit?limit=100", token: admin)
            let entry = try #require((audit["items"] as? [[String: Any]])?.first { $0["action"] as? String == "node.forget" })
            #expect(entry["target"] as? String == "node/eu-2")
            // Its certificate names a node the coordinator no longer has: nothing it sends is taken.
            #expect(try await nodes.isCurrent("eu-2", serial: "any") == nil)
        }
    }
}

import Crypto
import Foundation
import Logging
import MeridianCore
import Synchronization
import Testing

@testable import MeridianCoordinator

@Suite("Config deltas: a change compiles only the customers it touched, and nodes get what changed")
struct ConfigDeltaTests {
    /// A customer repository that counts full reads: an incremental compile must make none.
    final class CountingCustomers: CustomerRepository {
        let base: SQLCustomerRepository
        let fullReads = Mutex(0)
        let finds = Mutex(0)

        init(base: SQLCustomerRepository) {
            self.base = base
        }

        func create(_ customer: CustomerRecord, by actor: AuditActor) async throws { try await base.create(customer, by: actor) }
        func find(_ id: String) async throws -> CustomerRecord? {
            finds.withLock { $0 += 1 }
            return try await base.find(id)
        }
        func list(after cursor: String?, limit: Int, status: CustomerRecord.Status?, only ids: Set<String>?) async throws -> [CustomerRecord] {
            try await base.list(after: cursor, limit: limit, status: status, only: ids)
        }
        func allActive() async throws -> [CustomerRecord] {
            fullReads.withLock { $0 += 1 }
            return try await base.allActive()
        }
        func update(_ id: String, _ changes: CustomerChanges, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
            try await base.update(id, changes, at: date, by: actor)
        }
        func setRegion(_ id: String, to region: RegionID?, reason: String?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
            try await base.setRegion(id, to: region, reason: reason, at: date, by: actor)
        }
        func regionHistory(_ id: String) async throws -> [RegionChange] { try await base.regionHistory(id) }
        func close(_ id: String, at date: Date, purgeAfter: Date, reason: String?, by actor: AuditActor) async throws -> CustomerRecord {
            try await base.close(id, at: date, purgeAfter: purgeAfter, reason: reason, by: actor)
        }
        func reopen(_ id: String, at date: Date, by actor: AuditActor) async throws -> CustomerRecord { try await base.reopen(id, at: date, by: actor) }
        func rotateWebhookSecret(_ id: String, to sealed: String, overlapUntil: Date?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
            try await base.rotateWebhookSecret(id, to: sealed, overlapUntil: overlapUntil, at: date, by: actor)
        }
        func setFiltering(_ id: String, to policy: FilteringPolicy, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
            try await base.setFiltering(id, to: policy, at: date, by: actor)
        }
        func expirePreviousSecrets(at date: Date, by actor: AuditActor) async throws -> [String] { try await base.expirePreviousSecrets(at: date, by: actor) }
        func saveDomainProof(
            _ customerID: String, _ domain: CustomerDomain, event: DomainProofCheck.Event?, detail: [String: String], notices: [MeridianCoordinator.Notification],
            at date: Date, by actor: AuditActor
        ) async throws -> CustomerRecord {
            try await base.saveDomainProof(customerID, domain, event: event, detail: detail, notices: notices, at: date, by: actor)
        }
        func purgeClosed(dueBy date: Date, by actor: AuditActor) async throws -> [String] { try await base.purgeClosed(dueBy: date, by: actor) }
    }

    static let key = Curve25519.Signing.PrivateKey()
    static let regions = TestStores.regions.regions.map(\.id)

    static func publisher(_ store: any SQLStore, _ customers: any CustomerRepository) -> ConfigPublisher {
        ConfigPublisher(
            customers: customers, config: ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets), nodes: NodeRepository(store: store),
            compiler: ConfigCompiler(catalog: TestStores.regions, secrets: ConfigCompilerTests.secrets), key: key,
            pusher: NodePusher(credentials: TestStores.linkCredentials), authority: TestStores.authority, logger: Logger(label: "test"))
    }

    /// Every region's bundle as a new node assembles it (snapshot and deltas, secrets opened) equals a full compile
    /// of the database at `version`.
    static func expectFullCompile(_ store: any SQLStore, version: Int) async throws {
        let config = ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets)
        let keys = RegionKeys(secrets: ConfigCompilerTests.secrets)
        let full = try ConfigCompiler(catalog: TestStores.regions, secrets: ConfigCompilerTests.secrets)
            .compile(try await SQLCustomerRepository(store: store).allActive(), version: version)
        for expected in full {
            let assembled = try await config.newest(for: expected.region, key: key.publicKey, regionKey: keys.privateKey(for: expected.region))
            #expect(assembled == expected, "region \(expected.region) at version \(version)")
        }
    }

    @Test("one customer's change: compiled alone, a delta of it for its region and empty ones elsewhere; new nodes get the snapshot first",
        arguments: StoreKind.allCases)
    func oneCustomer(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let customers = CountingCustomers(base: SQLCustomerRepository(store: store))
            for index in 0..<60 {
                let region = ["eu", "us", nil][index % 3]
                try await customers.create(try ConfigCompilerTests.customer("cus_\(index)", "d\(index).example", region: region), by: RepositoryTests.admin)
            }
            let publisher = Self.publisher(store, customers)
            #expect(try await publisher.publish().version == 1)
            var changes = CustomerChanges()
            changes.webhookURL = "https://hooks.example/new"
            _ = try await customers.update("cus_3", changes, at: Date(), by: RepositoryTests.admin)  // pinned to eu
            publisher.changedElsewhere(customers: ["cus_3"])
            let outcome = try await publisher.publishPending()
            #expect(outcome.version == 2 && outcome.isNew)
            #expect(customers.fullReads.withLock { $0 } == 1, "only the first version read every customer")

            let config = ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets)
            #expect(try await config.snapshotVersions() == Dictionary(uniqueKeysWithValues: Self.regions.map { ($0, 1) }), "no snapshot was signed again")
            let eu = RegionID("eu")!
            let update = try JSONDecoder().decode(ConfigUpdate.self, from: try #require(try await config.update(for: eu, from: 1)?.json))
            #expect(update.snapshot == nil && update.deltas.count == 1)
            let delta = try update.deltas[0].verifyDelta(with: Self.key.publicKey, region: eu)
            #expect(delta.baseVersion == 1 && delta.version == 2 && delta.customers.map(\.id) == ["cus_3"] && delta.removedCustomers.isEmpty)
            #expect(delta.customers[0].webhook.secretSealed != nil && delta.customers[0].webhook.secret.isEmpty, "sealed to the region")
            let us = try JSONDecoder().decode(ConfigUpdate.self, from: try #require(try await config.update(for: RegionID("us")!, from: 1)?.json))
            #expect(try us.deltas.map { try $0.verifyDelta(with: Self.key.publicKey, region: RegionID("us")!).isEmpty } == [true])
            // The bytes sent for the change: the one customer, not the region's forty.
            let snapshotBytes = try #require(try await config.snapshot(for: eu)).signed.count
            #expect(try await config.update(for: eu, from: 1)!.json!.count * 8 < snapshotBytes)
            // A node with nothing gets the snapshot and the delta after it; one at the newest, nothing.
            let fresh = try JSONDecoder().decode(ConfigUpdate.self, from: try #require(try await config.update(for: eu, from: 0)?.json))
            #expect(fresh.snapshot != nil && fresh.deltas.count == 1)
            #expect(try await config.update(for: eu, from: 2)?.json == nil)
            try await Self.expectFullCompile(store, version: 2)

            // A snapshot signed again in the background replaces the stored one and is audited; an older one does not.
            let kept = try await publisher.keptSnapshots()
            try await config.storeSnapshots(kept, at: Date(), audit: .system("config"))
            #expect(try await config.snapshotVersions() == Dictionary(uniqueKeysWithValues: Self.regions.map { ($0, 2) }))
            let fromTwo = try JSONDecoder().decode(ConfigUpdate.self, from: try #require(try await config.update(for: eu, from: 0)?.json))
            #expect(fromTwo.snapshot != nil && fromTwo.deltas.isEmpty, "a new node needs no delta after a snapshot of the newest version")
            try await config.storeSnapshots(kept.map { var older = $0; older.version = 1; return older }, at: Date(), audit: .system("config"))
            #expect(try await config.snapshotVersions()[eu] == 2)
            let audited = try await SQLAuditLog(store: store).entries(after: 0, limit: 500).filter { $0.action == "config.snapshot" }
            #expect(audited.map(\.target) == ["config/2"] && audited.first?.detail["regions"] == "ap,eu,us")
            try await Self.expectFullCompile(store, version: 2)

            // A change that touches nothing the bundles hold makes no version.
            var name = CustomerChanges()
            name.name = "Renamed"
            _ = try await customers.update("cus_4", name, at: Date(), by: RepositoryTests.admin)
            publisher.changedElsewhere(customers: ["cus_4"])
            #expect(try await publisher.publishPending().isNew == false)
            // A restarted coordinator (nothing kept) compiles everything and finds the same content: no new version.
            let restarted = Self.publisher(store, customers)
            let again = try await restarted.publish()
            #expect(again.version == 2 && !again.isNew)
        }
    }

    @Test("customers created, changed, moved between regions, closed and reopened, each compiled alone, give what a full compile gives",
        arguments: StoreKind.allCases)
    func randomChanges(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let customers = CountingCustomers(base: SQLCustomerRepository(store: store))
            let publisher = Self.publisher(store, customers)
            try await publisher.publish()
            var generator = SystemRandomNumberGenerator()
            var ids: [String] = []
            var closed: Set<String> = []
            let pins: [RegionID?] = Self.regions + [nil]
            for step in 0..<80 {
                let id: String
                if ids.count < 5 || Int.random(in: 0..<4, using: &generator) == 0 {
                    id = "cus_r\(step)"
                    let region = pins.randomElement(using: &generator)!
                    try await customers.create(try ConfigCompilerTests.customer(id, "r\(step).example", region: region?.rawValue), by: RepositoryTests.admin)
                    ids.append(id)
                } else {
                    id = ids.randomElement(using: &generator)!
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0:
                        _ = try await customers.setRegion(id, to: pins.randomElement(using: &generator)!, reason: nil, at: Date(), by: RepositoryTests.admin)
                    case 1 where closed.contains(id):
                        _ = try await customers.reopen(id, at: Date(), by: RepositoryTests.admin)
                        closed.remove(id)
                    case 1:
                        _ = try await customers.close(id, at: Date(), purgeAfter: Date().addingTimeInterval(86_400), reason: nil, by: RepositoryTests.admin)
                        closed.insert(id)
                    default:
                        var changes = CustomerChanges()
                        changes.webhookMode = Bool.random(using: &generator) ? .sync : .queued
                        changes.webhookURL = "https://hooks.example/\(id)/\(step)"
                        _ = try await customers.update(id, changes, at: Date(), by: RepositoryTests.admin)
                    }
                }
                publisher.changedElsewhere(customers: [id])
                let outcome = try await publisher.publishPending()
                if step % 20 == 19 { try await Self.expectFullCompile(store, version: outcome.version) }
            }
            #expect(customers.fullReads.withLock { $0 } == 1)
            // The digest kept change by change is the digest of the whole: a full compile finds nothing new.
            let latest = try #require(try await ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets).latest())
            #expect(try await Self.publisher(store, customers).publish().isNew == false)
            #expect(try await ConfigRepository(store: store, secrets: ConfigCompilerTests.secrets).latest()?.version == latest.version)
        }
    }
}

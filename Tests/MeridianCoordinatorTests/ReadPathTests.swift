import Foundation
import MeridianCore
import Synchronization
import Testing

@testable import MeridianCoordinator

@Suite("The API's read path: audited reads committed in groups; tokens, customers and the registry cached until a change")
struct ReadPathTests {
    @Test("reads recorded at once share commits, each caller returns once its entry is in, and the chain stays whole", arguments: StoreKind.allCases)
    func groupCommit(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let log = SQLAuditLog(store: store)
            let date = Date()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        try await log.record(AuditEvent("customer.read", target: "cus_\(index)"), by: RepositoryTests.admin, at: date)
                        // Returned: the entry is committed and readable.
                        #expect(try await log.entries(target: "cus_\(index)", limit: 2).count == 1)
                    }
                }
                try await group.waitForAll()
            }
            let entries = try await log.entries(after: 0, limit: 1000)
            #expect(entries.count == 300)
            #expect(entries.map(\.sequence) == Array(1...300))
            #expect(Set(entries.map(\.target)).count == 300)
            let (checked, firstBreak) = AuditChain.verify(entries)
            #expect(checked == 300 && firstBreak == nil)
            // Grouped: fewer commits than entries (one each without group commit).
            let commits = log.group.commits.withLock { $0 }
            #expect(commits < 300)
        }
    }

    /// Counts the reads that reach the database.
    final class CountingTokens: TokenRepository {
        let base: any TokenRepository
        let finds = Mutex(0)
        init(_ base: any TokenRepository) { self.base = base }
        func create(_ token: TokenRecord, by actor: AuditActor) async throws { try await base.create(token, by: actor) }
        func find(secretHash: String) async throws -> TokenRecord? {
            finds.withLock { $0 += 1 }
            return try await base.find(secretHash: secretHash)
        }
        func find(id: String) async throws -> TokenRecord? { try await base.find(id: id) }
        func list(after cursor: String?, limit: Int) async throws -> [TokenRecord] { try await base.list(after: cursor, limit: limit) }
        func list(customerID: String) async throws -> [TokenRecord] { try await base.list(customerID: customerID) }
        func revoke(_ id: String, at date: Date, by actor: AuditActor) async throws -> TokenRecord { try await base.revoke(id, at: date, by: actor) }
        func anyActiveAdmin(at date: Date) async throws -> Bool { try await base.anyActiveAdmin(at: date) }
    }

    @Test("a token is read once per lifetime; a revocation is seen by the next request; unknown secrets are never kept")
    func tokenCache() async throws {
        try await TestStores.withStore(.sqlite) { store in
            let counting = CountingTokens(SQLTokenRepository(store: store))
            let tokens = CachedTokenRepository(base: counting, lifetime: .milliseconds(300))
            let secret = BearerToken.generate()
            let date = Date()
            let record = TokenRecord(
                id: "tok_cache", name: "cache", role: .support, customerID: nil, secretHash: secret.hash, createdAt: date, createdBy: "test")
            try await tokens.create(record, by: RepositoryTests.admin)
            for _ in 0..<50 { #expect(try await tokens.find(secretHash: secret.hash)?.id == "tok_cache") }
            #expect(counting.finds.withLock { $0 } == 1)
            // After its lifetime it is read again.
            try await Task.sleep(for: .milliseconds(350))
            #expect(try await tokens.find(secretHash: secret.hash)?.revokedAt == nil)
            #expect(counting.finds.withLock { $0 } == 2)
            // A revocation empties the cache: the very next request reads the revoked record.
            _ = try await tokens.revoke("tok_cache", at: date, by: RepositoryTests.admin)
            #expect(try await tokens.find(secretHash: secret.hash)?.revokedAt != nil)
            #expect(counting.finds.withLock { $0 } == 3)
            // Guesses reach the database each time and take no memory.
            for _ in 0..<3 { #expect(try await tokens.find(secretHash: BearerToken.generate().hash) == nil) }
            #expect(counting.finds.withLock { $0 } == 6)
            #expect(tokens.cache.value(secret.hash)?.revokedAt != nil)
        }
    }

    @Test("a read that began before a revocation cannot put the revoked token back in the cache")
    func staleRead() {
        let cache = ReadCache<TokenRecord>(lifetime: .seconds(60))
        let record = TokenRecord(id: "t", name: "n", role: .admin, customerID: nil, secretHash: "h", createdAt: Date(), createdBy: "x")
        let before = cache.generation
        cache.clear()  // a revocation lands while the read is in flight
        cache.keep(record, for: "h", ifStill: before)
        #expect(cache.value("h") == nil)
        cache.keep(record, for: "h", ifStill: cache.generation)
        #expect(cache.value("h") == record)
    }

    @Test("a customer's record is read once per lifetime, and a change through the repository is seen by the next read")
    func customerCache() async throws {
        try await TestStores.withStore(.sqlite) { store in
            let counting = ConfigDeltaTests.CountingCustomers(base: SQLCustomerRepository(store: store))
            let customers = CoordinatedCustomerRepository(
                base: counting, publisher: ConfigDeltaTests.publisher(store, counting), lifetime: .seconds(60))
            try await customers.create(try ConfigCompilerTests.customer("cus_1", "one.example", region: "eu"), by: RepositoryTests.admin)
            for _ in 0..<50 { #expect(try await customers.find("cus_1")?.name == "cus_1") }
            #expect(counting.finds.withLock { $0 } == 1)
            var changes = CustomerChanges()
            changes.name = "Renamed"
            _ = try await customers.update("cus_1", changes, at: Date(), by: RepositoryTests.admin)
            #expect(try await customers.find("cus_1")?.name == "Renamed")
            _ = try await customers.close("cus_1", at: Date(), purgeAfter: Date().addingTimeInterval(60), reason: nil, by: RepositoryTests.admin)
            #expect(try await customers.find("cus_1")?.status == .closed)
            #expect(try await customers.find("cus_none") == nil)
            #expect(try await customers.find("cus_none") == nil)
            #expect(counting.finds.withLock { $0 } == 5, "one read after each change, and unknown ids each time")
        }
    }

    @Test("the registry is read once per lifetime; a change through the repository is seen at once, and the publisher reads it fresh")
    func registryCache() async throws {
        try await TestStores.withStore(.sqlite) { store in
            let registry = SubProcessorRepository(store: store, lifetime: .seconds(60))
            let now = Date()
            @Sendable func entry(_ id: String) -> SubProcessor {
                SubProcessor(
                    id: id, name: id, legalEntity: id, purpose: "p", dataCategories: [], regions: [RegionID("eu")!], locations: [],
                    transferMechanism: "", dpaInPlace: true, egressHosts: [], steps: [.contentAnalysis], announcedAt: now, effectiveFrom: now)
            }
            try await registry.add(entry("alpha"), by: RepositoryTests.admin)
            #expect(try await registry.all().map(\.id) == ["alpha"])
            // A row written behind the repository's back (another replica, its notice not heard) waits for the lifetime…
            let beta = try SubProcessorRepository.json(entry("beta"))
            try await store.withSession { db in
                try await db.raw("INSERT INTO subprocessors (id, entry, version, updated_at) VALUES ('beta', \(bind: beta), 1, 0)").run()
            }
            #expect(try await registry.all().map(\.id) == ["alpha"])
            // …except for the config publisher, which reads it fresh.
            #expect(try await registry.all(fresh: true).map(\.id) == ["alpha", "beta"])
            // A change through the repository is seen at once.
            try await registry.add(entry("gamma"), by: RepositoryTests.admin)
            #expect(try await registry.all().map(\.id) == ["alpha", "beta", "gamma"])
        }
    }
}

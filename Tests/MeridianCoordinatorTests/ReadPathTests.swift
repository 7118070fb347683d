import Foundation
import MeridianCore
import Synchronization
import Testing

@testable import MeridianCoordinator

@Suite("The API's read path: audited reads committed in groups, tokens cached until a revocation")
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
            #expect(tokens.cache.token(secret.hash)?.revokedAt != nil)
        }
    }

    @Test("a read that began before a revocation cannot put the revoked token back in the cache")
    func staleRead() {
        let cache = TokenCache(lifetime: .seconds(60))
        let record = TokenRecord(id: "t", name: "n", role: .admin, customerID: nil, secretHash: "h", createdAt: Date(), createdBy: "x")
        let before = cache.generation
        cache.clear()  // a revocation lands while the read is in flight
        cache.keep(record, ifStill: before)
        #expect(cache.token("h") == nil)
        cache.keep(record, ifStill: cache.generation)
        #expect(cache.token("h") == record)
    }
}

import Foundation

/// A ``TokenRepository`` that keeps the tokens it found by secret hash for a few seconds, so that an API request
/// does not read its token from the database each time.
///
/// A revocation empties the cache of this replica at once and, through the ``ReplicaBell``, of every other replica;
/// `lifetime` bounds how long a revocation could go unnoticed should a replica miss the bell. Expiry is checked on
/// the record at each request, cached or not. Unknown secrets are not kept, so guessing cannot fill the memory.
public struct CachedTokenRepository: TokenRepository {
    let base: any TokenRepository
    let cache: ReadCache<TokenRecord>
    let bell: ReplicaBell?

    public init(base: any TokenRepository, lifetime: Duration = .seconds(10), bell: ReplicaBell? = nil) {
        self.base = base
        self.cache = ReadCache(lifetime: lifetime)
        self.bell = bell
        bell?.on(.tokens) { [cache] in cache.clear() }
    }

    public func create(_ token: TokenRecord, by actor: AuditActor) async throws {
        try await base.create(token, by: actor)
    }

    public func find(secretHash: String) async throws -> TokenRecord? {
        try await cache.value(secretHash) { try await base.find(secretHash: secretHash) }
    }

    public func find(id: String) async throws -> TokenRecord? {
        try await base.find(id: id)
    }

    public func list(after cursor: String?, limit: Int) async throws -> [TokenRecord] {
        try await base.list(after: cursor, limit: limit)
    }

    public func list(customerID: String) async throws -> [TokenRecord] {
        try await base.list(customerID: customerID)
    }

    public func revoke(_ id: String, at date: Date, by actor: AuditActor) async throws -> TokenRecord {
        defer {
            cache.clear()
            bell?.ring(.tokens)
        }
        return try await base.revoke(id, at: date, by: actor)
    }

    public func anyActiveAdmin(at date: Date) async throws -> Bool {
        try await base.anyActiveAdmin(at: date)
    }
}

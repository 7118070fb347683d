import Foundation
import Synchronization

/// A ``TokenRepository`` that keeps the tokens it found by secret hash for a few seconds, so that an API request
/// does not read its token from the database each time.
///
/// A revocation empties the cache of this replica at once and, through the ``ReplicaBell``, of every other replica;
/// `lifetime` bounds how long a revocation could go unnoticed should a replica miss the bell. Expiry is checked on
/// the record at each request, cached or not. Unknown secrets are not kept, so guessing cannot fill the memory.
public struct CachedTokenRepository: TokenRepository {
    let base: any TokenRepository
    let cache: TokenCache
    let bell: ReplicaBell?

    public init(base: any TokenRepository, lifetime: Duration = .seconds(10), bell: ReplicaBell? = nil) {
        self.base = base
        self.cache = TokenCache(lifetime: lifetime)
        self.bell = bell
        bell?.on(.tokens) { [cache] in cache.clear() }
    }

    public func create(_ token: TokenRecord, by actor: AuditActor) async throws {
        try await base.create(token, by: actor)
    }

    public func find(secretHash: String) async throws -> TokenRecord? {
        if let token = cache.token(secretHash) { return token }
        let generation = cache.generation
        guard let token = try await base.find(secretHash: secretHash) else { return nil }
        cache.keep(token, ifStill: generation)
        return token
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

/// The cache behind ``CachedTokenRepository``: tokens by secret hash with the time each was read, at most
/// `capacity` of them. `generation` grows at each clearing, so that a read that began before a revocation
/// cannot put the revoked token back.
final class TokenCache: Sendable {
    let lifetime: Duration
    let capacity: Int
    private let state = Mutex<(tokens: [String: (token: TokenRecord, read: ContinuousClock.Instant)], generation: Int)>(([:], 0))

    init(lifetime: Duration, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    var generation: Int { state.withLock { $0.generation } }

    func token(_ hash: String) -> TokenRecord? {
        state.withLock { state in
            guard let kept = state.tokens[hash] else { return nil }
            guard ContinuousClock.now - kept.read < lifetime else {
                state.tokens[hash] = nil
                return nil
            }
            return kept.token
        }
    }

    func keep(_ token: TokenRecord, ifStill generation: Int) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.tokens.count >= capacity { state.tokens.removeAll(keepingCapacity: true) }
            state.tokens[token.secretHash] = (token, ContinuousClock.now)
        }
    }

    func clear() {
        state.withLock { state in
            state.tokens.removeAll()
            state.generation += 1
        }
    }
}

import Foundation
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization

/// Which coordinator replica leads: the one holding the lease row `leadership('coordinator')` in the shared
/// database. The leader alone publishes and pushes config and runs the singleton jobs (retention, publications,
/// domain proofs, backups, secret overlaps); every replica serves the API and takes work items (outbox notices,
/// data-subject tickets) through ``WorkClaim``.
///
/// Every attempt also records that this replica is alive (`coordinator_replicas`), which keeps its claimed work
/// items its own.
///
/// The lease runs on the database's clock. The leader renews it every `renewEvery`; a follower tries to take it
/// every `pollEvery` and succeeds once it has expired. A leader stops leading on its own `lease − margin` after
/// the start of its last successful renewal, measured on its own monotonic clock: since the database dated the
/// lease after that start, the old leader has stopped before any other replica can take the lease, also when it
/// is cut off from the database. A graceful stop gives the lease up at once.
///
/// A coordinator on SQLite is the only replica there can be (the database is a file of its own), so it is `sole`:
/// it leads from its start to its stop whatever its lease says. It still takes the lease, for `/v1/nodes` and
/// `/metrics`, but a renewal held up behind a long write on the one connection (a snapshot of a million customers)
/// does not end its lead.
public final class Leadership: Service, Sendable {
    /// What a replica knows of the leader.
    public struct Leader: Sendable, Equatable {
        /// The leader's name (`--replica`).
        public var replica: String
        /// Which run of it leads (``Leadership/incarnation``).
        public var incarnation: String
        /// Incremented at each change of holder: a fencing number, shown by `/v1/nodes` and `/metrics`.
        public var term: Int64
        public var since: Date
    }

    public static let name = "coordinator"

    /// This replica's name (`--replica`; by default the host name and the API port).
    public let replica: String
    /// This run of the replica: its name and a random suffix (`coord-a#9f2c41d0`). Leases, signs of life and
    /// claims carry it, so that a replica restarted under the same name neither inherits the lead of its previous
    /// run nor takes the claims that run left for its own.
    public let incarnation: String
    let store: any SQLStore
    let lease: Duration
    let renewEvery: Duration
    let pollEvery: Duration
    let logger: Logger
    /// The only replica there can be (``Leadership``): leads from ``start()`` to ``resign()``.
    let sole: Bool
    private let soleLeads = Mutex(false)
    /// Called with true when this replica starts leading and false when it stops, from the service's task.
    private let handler = Mutex<@Sendable (Bool) async -> Void>({ _ in })
    private let state = Mutex(State())
    /// Yielded once the schema exists (the coordinator migrates before its server starts).
    private let ready: AsyncStream<Void>.Continuation
    private let readiness: AsyncStream<Void>

    struct State {
        var leadingUntil: ContinuousClock.Instant?
        var leader: Leader?
        var wasLeading = false
    }

    public init(
        replica: String, store: any SQLStore, lease: Duration = .seconds(3), renewEvery: Duration = .seconds(1),
        pollEvery: Duration = .milliseconds(500), sole: Bool = false, logger: Logger
    ) {
        self.sole = sole
        self.replica = replica
        self.incarnation = replica + "#" + String(UInt32.random(in: .min ... .max), radix: 16)
        self.store = store
        self.lease = lease
        self.renewEvery = renewEvery
        self.pollEvery = pollEvery
        self.logger = logger
        (readiness, ready) = AsyncStream.makeStream()
    }

    /// What to do when this replica starts (true) or stops (false) leading.
    public func onChange(_ handler: @escaping @Sendable (Bool) async -> Void) {
        self.handler.withLock { $0 = handler }
    }

    /// True while this replica holds an unexpired lease, by its own clock.
    public var isLeading: Bool {
        if sole { return soleLeads.withLock { $0 } }
        return state.withLock { state in state.leadingUntil.map { ContinuousClock.now < $0 } ?? false }
    }

    /// The leader as last seen by this replica (itself when it leads), or nil before the first attempt or
    /// when the lease is vacant.
    public var leader: Leader? {
        state.withLock { $0.leader }
    }

    /// The schema exists: the loop may start. Called once, by the coordinator's start-up step.
    public func start() {
        if sole { soleLeads.withLock { $0 = true } }
        ready.yield()
        ready.finish()
    }

    public func run() async throws {
        var iterator = readiness.makeAsyncIterator()
        guard await iterator.next() != nil else { return }
        await withDiscardingTaskGroup { group in
            // An attempt may wait for the database for seconds (a lost connection); the lead ends by the clock
            // meanwhile, and this says so at once.
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
                    await self.announce()
                }
            }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                await attempt()
                let wait = isLeading ? renewEvery : pollEvery
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            }
            group.cancelAll()
        }
        await resign()
    }

    /// One try at taking or renewing the lease, then the news to `onChange`. Returns whether this replica leads.
    @discardableResult
    public func attempt() async -> Bool {
        let sent = ContinuousClock.now
        do {
            let leader = try await take()
            state.withLock { state in
                state.leader = leader
                if leader?.incarnation == incarnation {
                    state.leadingUntil = sent + lease - Self.margin(lease)
                } else {
                    state.leadingUntil = nil
                }
            }
        } catch {
            // Still leading until the lease would run out by this replica's clock; then not.
            logger.warning("leadership: cannot reach the database to renew or take the lease", metadata: ["error": "\(error)"])
        }
        await announce()
        return isLeading
    }

    /// Gives the lease up (a graceful stop), so that another replica leads within its next poll.
    public func resign() async {
        if sole { soleLeads.withLock { $0 = false } }
        let wasLeading = state.withLock { state -> Bool in
            defer { state.leadingUntil = nil }
            return state.leadingUntil != nil
        }
        guard wasLeading else { return }
        let (replica, name) = (incarnation, Self.name)
        do {
            try await store.withSession { db in
                try await db.raw("UPDATE leadership SET expires_at = 0 WHERE name = \(bind: name) AND holder = \(bind: replica)").run()
            }
            logger.info("leadership: \(self.replica) gave up the lead")
        } catch {
            logger.warning("leadership: could not give up the lease; it expires on its own", metadata: ["error": "\(error)"])
        }
        await announce()
    }

    private func announce() async {
        let sole = self.sole ? soleLeads.withLock { $0 } : nil
        let change = state.withLock { state -> Bool? in
            let leading = sole ?? state.leadingUntil.map { ContinuousClock.now < $0 } ?? false
            guard leading != state.wasLeading else { return nil }
            state.wasLeading = leading
            return leading
        }
        guard let change else { return }
        if change {
            logger.notice("leadership: \(replica) leads (term \(leader?.term ?? 0))")
        } else {
            logger.notice("leadership: \(replica) no longer leads")
        }
        await handler.withLock { $0 }(change)
    }

    /// The margin kept from the lease's end: a fifth of it, at least 200 ms.
    static func margin(_ lease: Duration) -> Duration {
        max(.milliseconds(200), lease / 5)
    }

    /// Takes the lease if it is vacant or expired, renews it if this replica holds it, and returns the holder.
    private func take() async throws -> Leader? {
        let (replica, name, kind) = (incarnation, Self.name, store.kind)
        let milliseconds = lease.components.seconds * 1000 + lease.components.attoseconds / 1_000_000_000_000_000
        return try await store.withSession { db in
            let now = SQLRaw(Self.databaseNow(kind))
            // This replica is alive: its claimed work items stay its own (``WorkClaim``).
            try await db.raw("""
                INSERT INTO coordinator_replicas (name, seen_at) VALUES (\(bind: replica), \(now))
                ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at
                """).run()
            // Runs silent for a day are long gone (their claims were void 10 s after their last sign of life).
            try await db.raw("DELETE FROM coordinator_replicas WHERE seen_at < \(now) - 86400000").run()
            try await db.raw("""
                INSERT INTO leadership (name, holder, term, acquired_at, expires_at)
                VALUES (\(bind: name), \(bind: replica), 1, \(now), \(now) + \(bind: milliseconds))
                ON CONFLICT (name) DO UPDATE SET
                    term = CASE WHEN leadership.holder = excluded.holder AND leadership.expires_at >= \(now)
                        THEN leadership.term ELSE leadership.term + 1 END,
                    acquired_at = CASE WHEN leadership.holder = excluded.holder AND leadership.expires_at >= \(now)
                        THEN leadership.acquired_at ELSE excluded.acquired_at END,
                    holder = excluded.holder, expires_at = excluded.expires_at
                WHERE leadership.holder = excluded.holder OR leadership.expires_at < \(now)
                """).run()
            guard let row = try await db.raw("""
                SELECT holder, term, acquired_at, expires_at >= \(now) AS current FROM leadership WHERE name = \(bind: name)
                """).first()
            else { return nil }
            let current: Bool = kind == .postgres ? try row.decode(column: "current", as: Bool.self) : try row.decode(column: "current", as: Int64.self) != 0
            guard current else { return nil }
            let holder = try row.decode(column: "holder", as: String.self)
            return Leader(
                replica: String(holder.split(separator: "#").first ?? ""), incarnation: holder, term: try row.decode(column: "term", as: Int64.self),
                since: Timestamp.date(try row.decode(column: "acquired_at", as: Int64.self)))
        }
    }

    /// The database's clock in milliseconds since 1970, as SQL: the lease must not depend on the replicas' clocks.
    static func databaseNow(_ kind: StoreKind) -> String {
        switch kind {
        case .postgres: return "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
        case .sqlite: return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
        }
    }
}

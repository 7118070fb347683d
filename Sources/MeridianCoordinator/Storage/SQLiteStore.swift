import Logging
import MeridianServer
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import ServiceLifecycle
import Synchronization

/// The embedded store: one SQLite connection in WAL mode, used by one session at a time.
///
/// SQLite allows one writer; holding the single connection for a whole session (and so a whole transaction)
/// keeps statements of concurrent requests from interleaving inside each other's transactions. As a `Service`
/// it closes its connection when the coordinator's other services have ended.
public final class SQLiteStore: SQLStore, Service {
    public let kind = StoreKind.sqlite
    private let connection: SQLiteConnection
    private let gate = AsyncGate()
    private let closed = Mutex(false)

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, logger: Logger) async throws -> SQLiteStore {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any())
        let store = SQLiteStore(connection: connection)
        try await store.withSession { db in
            for pragma in ["PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000", "PRAGMA synchronous = FULL"] {
                try await db.raw(SQLQueryString(pragma)).run()
            }
        }
        return store
    }

    public func withSession<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        await gate.enter()
        defer { gate.leave() }
        return try await body(connection.sql())
    }

    /// Waits until graceful shutdown or cancellation, then closes the connection.
    public func run() async throws {
        try? await gracefulShutdown()
        try await close()
    }

    /// Closes the connection (SQLiteNIO insists on an explicit close); a second call does nothing.
    public func close() async throws {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        await gate.enter()
        defer { gate.leave() }
        try await connection.close()
    }
}

import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// The embedded store: one SQLite connection in WAL mode, used by one session at a time.
///
/// SQLite allows one writer; holding the single connection for a whole session (and so a whole transaction)
/// keeps statements of concurrent requests from interleaving inside each other's transactions.
public final class SQLiteStore: SQLStore {
    public let kind = StoreKind.sqlite
    private let connection: SQLiteConnection
    private let gate = SessionGate()

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
        do {
            let result = try await body(connection.sql())
            await gate.leave()
            return result
        } catch {
            await gate.leave()
            throw error
        }
    }

    public func close() async throws {
        try await connection.close()
    }
}

/// Lets one session at a time through, in arrival order.
actor SessionGate {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func enter() async {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
    }

    func leave() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}

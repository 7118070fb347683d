import Foundation
import Logging
import MeridianCore
import MeridianServer
import NIOCore
import NIOPosix
import SQLiteNIO
import ServiceLifecycle

/// The regional metadata store: SQLite in WAL mode, one row per recipient with its attempts.
///
/// Writes are batched: concurrent sessions' records go in one transaction every few milliseconds, written by
/// the store's own loop, which runs as a `Service` and closes the store when it ends. The spool, not this
/// store, is what makes a 250 durable; after a crash, recovery writes the rows of spooled messages again
/// (`INSERT OR IGNORE`).
///
/// No write is dropped (`MetadataStore+Writing`): a batch the database cannot take now is kept and tried again
/// every second, what is still pending at shutdown goes to `metadata-pending.jsonl` for the next start, and a
/// write the database refuses for its content is set aside in `metadata-rejected.jsonl`. Reads, retention and
/// data-subject requests are in the store's other files.
public actor MetadataStore: Service {
    let connection: SQLiteConnection
    let logger: Logger
    let now: @Sendable () -> Date
    /// Writes the database could not take by shutdown, written first at the next start.
    nonisolated let pending: JSONLinesFile
    /// Writes the database refused for their content, kept with the error.
    nonisolated let setAside: JSONLinesFile
    var batch: [MetadataWrite] = []
    /// Writes from the pending file are in the batch; the file goes once they are written.
    var replaying = false
    var closed = false
    /// A ROLLBACK failed, so a transaction may still be open on the connection.
    var transactionMayBeOpen = false
    /// Held by whoever runs statements on the one connection.
    let gate = AsyncGate()
    /// Rung by every write; the store's loop answers with a flush.
    nonisolated let doorbell: AsyncStream<Void>
    nonisolated let bell: AsyncStream<Void>.Continuation

    /// How long the loop lets writes gather into one batch, and how long it waits after a batch failed.
    static let gathering: Duration = .milliseconds(5)
    static let retryDelay: Duration = .seconds(1)

    private init(connection: SQLiteConnection, path: String, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.connection = connection
        self.logger = logger
        self.now = now
        let directory = (path as NSString).deletingLastPathComponent
        pending = JSONLinesFile(path: (directory as NSString).appendingPathComponent("metadata-pending.jsonl"))
        setAside = JSONLinesFile(path: (directory as NSString).appendingPathComponent("metadata-rejected.jsonl"))
        (doorbell, bell) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Opens the store at `path`, brings its schema up to date and writes what the last shutdown kept aside.
    public static func open(path: String, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) async throws -> MetadataStore {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        do {
            let applied = try await MetadataSchema.migrate(connection)
            if !applied.isEmpty { logger.info("metadata store: schema now at version \(MetadataSchema.latestVersion)") }
        } catch {
            try? await connection.close()
            throw error
        }
        let store = MetadataStore(connection: connection, path: path, logger: logger, now: now)
        await store.replayPending()
        return store
    }

    /// The store's loop: writes each batch a moment after its first write, and a failed one again a second
    /// later, until graceful shutdown; then closes the store.
    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in doorbell {
                try? await Task.sleep(for: Self.gathering)
                if !(await flushBatch()) {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.retryDelay) }
                    bell.yield()
                }
            }
        } onGracefulShutdown: { [bell] in
            bell.finish()
        }
        try await close()
    }

    /// Writes what is pending; what the database cannot take now is saved to `metadata-pending.jsonl` for the
    /// next start instead of being lost with the connection. Closing twice does nothing.
    public func close() async throws {
        await gate.enter()
        defer { gate.leave() }
        guard !closed else { return }
        try? await writePending()
        closed = true
        bell.finish()
        if !batch.isEmpty { savePending() }
        try await connection.close()
    }

    // MARK: - Writing

    public func insert(_ record: DeliveryRecord) { enqueue(.record(record)) }

    public func recordAttempt(_ key: DeliveryKey, number: Int, _ attempt: DeliveryAttempt) {
        enqueue(.attempt(key, number: number, attempt))
    }

    public func updateStatus(
        _ key: DeliveryKey, _ status: DeliveryStatus, attempts: Int, nextAttemptAt: Date? = nil, completedAt: Date? = nil,
        reason: String? = nil, serverResponse: String? = nil
    ) {
        enqueue(.status(key, status, attempts: attempts, nextAttemptAt: nextAttemptAt, completedAt: completedAt, reason: reason, serverResponse: serverResponse))
    }

    private func enqueue(_ write: MetadataWrite) {
        guard !closed else {
            // Late, after the store closed (a delivery ending during shutdown): kept for the next start.
            keepForNextStart([write])
            return
        }
        batch.append(write)
        bell.yield()
    }

    /// Writes everything enqueued so far now.
    public func flush() async {
        _ = await flushBatch()
    }

    /// Writes the batch; false when some of it had to be kept for another try.
    private func flushBatch() async -> Bool {
        await gate.enter()
        defer { gate.leave() }
        guard !closed else { return true }
        do {
            try await writePending()
            return true
        } catch {
            return false
        }
    }

    /// Runs `body` with the connection to itself, after writing what is pending.
    func exclusive<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        await gate.enter()
        defer { gate.leave() }
        try? await writePending()
        return try await body()
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction, with the connection held: committed when it returns,
    /// rolled back when it throws.
    func inTransaction<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        if transactionMayBeOpen {
            // A ROLLBACK failed earlier: end whatever it left open (an error here means nothing was open).
            _ = try? await connection.query("ROLLBACK")
            transactionMayBeOpen = false
        }
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            let result = try await body()
            _ = try await connection.query("COMMIT")
            return result
        } catch {
            do {
                _ = try await connection.query("ROLLBACK")
            } catch {
                transactionMayBeOpen = true
            }
            throw error
        }
    }
}

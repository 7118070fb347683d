import Foundation
import Logging
import MeridianCore
import NIOCore
import NIOPosix
import SQLiteNIO

/// The final or current state of one recipient's delivery.
public enum DeliveryStatus: String, Sendable, Codable, CaseIterable {
    /// Spooled, waiting for its next attempt.
    case queued
    /// The webhook answered 2xx.
    case delivered
    /// Given up: a permanent error, or the queue lifetime ran out (a DSN went to the sender).
    case failed
    /// Sync mode: the webhook refused it and the SMTP client got 550.
    case rejected
    /// Sync mode: the webhook was unreachable or answered 5xx, and the SMTP client got 451.
    case deferred
}

/// One recipient's delivery as the metadata store keeps it and the control API returns it.
public struct DeliveryRecord: Sendable, Codable, Hashable {
    public var messageID: String
    public var recipient: Int
    public var customerID: String
    public var webhookID: String
    public var mode: DeliveryMode
    public var status: DeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var completedAt: Date?
    public var finalReason: String?
    public var metadata: MessageMetadata

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", recipient, customerID = "customer_id", webhookID = "webhook_id", mode, status, attempts
        case nextAttemptAt = "next_attempt_at", completedAt = "completed_at", finalReason = "final_reason", metadata
    }
}

/// One HTTP attempt, the delivery log (kept for the region's `delivery_logs` period).
public struct DeliveryAttempt: Sendable, Codable, Hashable {
    public var at: Date
    public var durationMilliseconds: Int
    /// The HTTP status, or nil when no response came (timeout, refused connection).
    public var statusCode: Int?
    public var outcome: String
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case at, outcome, detail
        case durationMilliseconds = "duration_ms", statusCode = "status_code"
    }
}

/// What the coordinator may ask for: a customer's deliveries, narrowed by time, message, sender or recipient.
public struct MetadataQuery: Sendable, Hashable {
    public var customerID: String
    public var since: Date?
    public var until: Date?
    public var messageID: String?
    public var sender: String?
    public var recipient: String?
    public var limit: Int = 100

    public init(customerID: String) { self.customerID = customerID }
}

/// The regional metadata store: SQLite in WAL mode, one row per recipient with its attempts.
///
/// Writes are batched: concurrent sessions' records go in one transaction every few milliseconds. The
/// spool, not this store, is what makes a 250 durable; after a crash, recovery writes the rows of spooled
/// messages again (`INSERT OR IGNORE`).
///
/// No write is dropped. A batch the database cannot take now (locked, full, an I/O error) is kept and tried
/// again every second; what is still pending at shutdown is saved beside the database (`metadata-pending.jsonl`)
/// and written at the next start. A batch the database refuses for its content is written one write at a time,
/// and a write it still refuses on its own is set aside in `metadata-rejected.jsonl` with the error, so that one
/// bad row cannot hold back every later one.
public actor MetadataStore {
    let connection: SQLiteConnection
    private let logger: Logger
    nonisolated let pendingPath: String
    nonisolated let rejectedPath: String
    private var batch: [Write] = []
    private var flushScheduled = false
    /// Writes from `metadata-pending.jsonl` are in the batch; the file goes once they are written.
    private var replaying = false
    private var closed = false
    /// Held by whoever runs a transaction on the one connection.
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    enum Write: Sendable, Codable {
        case record(DeliveryRecord)
        case attempt(DeliveryKey, number: Int, DeliveryAttempt)
        case status(DeliveryKey, DeliveryStatus, attempts: Int, nextAttemptAt: Date?, completedAt: Date?, reason: String?, serverResponse: String?)

        var key: DeliveryKey {
            switch self {
            case .record(let record): DeliveryKey(messageID: record.messageID, recipient: record.recipient)
            case .attempt(let key, _, _), .status(let key, _, _, _, _, _, _): key
            }
        }
    }

    private init(connection: SQLiteConnection, path: String, logger: Logger) {
        self.connection = connection
        self.logger = logger
        let directory = (path as NSString).deletingLastPathComponent
        pendingPath = (directory as NSString).appendingPathComponent("metadata-pending.jsonl")
        rejectedPath = (directory as NSString).appendingPathComponent("metadata-rejected.jsonl")
    }

    public static func open(path: String, logger: Logger) async throws -> MetadataStore {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        for statement in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA busy_timeout = 5000",
            """
            CREATE TABLE IF NOT EXISTS deliveries (
                message_id TEXT NOT NULL,
                recipient INTEGER NOT NULL,
                customer_id TEXT NOT NULL,
                webhook_id TEXT NOT NULL,
                mode TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                received_at INTEGER NOT NULL,
                next_attempt_at INTEGER,
                completed_at INTEGER,
                final_reason TEXT,
                ip_masked INTEGER NOT NULL DEFAULT 0,
                record TEXT NOT NULL,
                PRIMARY KEY (message_id, recipient)
            )
            """,
            "CREATE INDEX IF NOT EXISTS deliveries_by_customer ON deliveries (customer_id, received_at)",
            "CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (received_at)",
            """
            CREATE TABLE IF NOT EXISTS attempts (
                message_id TEXT NOT NULL,
                recipient INTEGER NOT NULL,
                number INTEGER NOT NULL,
                at INTEGER NOT NULL,
                duration_ms INTEGER NOT NULL,
                status_code INTEGER,
                outcome TEXT NOT NULL,
                detail TEXT NOT NULL,
                PRIMARY KEY (message_id, recipient, number)
            )
            """,
            "CREATE INDEX IF NOT EXISTS attempts_by_time ON attempts (at)",
            // Erasure receipts by request (counts only, no personal data): see MetadataStore+Subjects.
            "CREATE TABLE IF NOT EXISTS erasure_receipts (request_id TEXT PRIMARY KEY, at INTEGER NOT NULL, receipt TEXT NOT NULL)",
        ] {
            _ = try await connection.query(statement)
        }
        let store = MetadataStore(connection: connection, path: path, logger: logger)
        await store.replayPending()
        return store
    }

    /// Writes what is pending; what the database cannot take now is saved to `metadata-pending.jsonl` for the
    /// next start instead of being lost with the connection.
    public func close() async throws {
        await acquire()
        defer { release() }
        try? await writePending()
        closed = true
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

    private func enqueue(_ write: Write) {
        batch.append(write)
        guard !flushScheduled else { return }
        flushScheduled = true
        Task { await self.flushSoon() }
    }

    private func flushSoon() async {
        try? await Task.sleep(for: .milliseconds(5))
        if flushScheduled { await flush() }
    }

    /// Writes everything enqueued so far in one transaction.
    public func flush() async {
        await acquire()
        defer { release() }
        guard !closed else { return }
        try? await writePending()
    }

    /// Called with the connection held. A batch that fails because of the database (locked, full, an I/O
    /// error) is kept at the head of the queue and tried again a second later. One that fails for its content
    /// is written one write at a time, and a write still refused alone is set aside (`reject`).
    private func writePending() async throws {
        flushScheduled = false
        while !batch.isEmpty {
            let writes = batch
            batch = []
            var failure: (any Error)?
            do {
                try await transaction(writes)
            } catch where !Self.isTransient(error) {
                logger.warning(
                    "metadata store: the database refused a batch of \(writes.count) writes; writing them one at a time",
                    metadata: ["error": "\(error)"])
                for (index, write) in writes.enumerated() {
                    do {
                        try await transaction([write])
                    } catch where !Self.isTransient(error) {
                        reject(write, error)
                    } catch {
                        batch = Array(writes[index...]) + batch
                        failure = error
                        break
                    }
                }
            } catch {
                batch = writes + batch
                failure = error
            }
            if let failure {
                logger.error(
                    "metadata store: \(batch.count) writes could not be written; kept, trying again in 1 s", metadata: ["error": "\(failure)"])
                if !flushScheduled {
                    flushScheduled = true
                    Task {
                        try? await Task.sleep(for: .seconds(1))
                        if self.flushScheduled { await self.flush() }
                    }
                }
                throw failure
            }
        }
        if replaying {
            replaying = false
            try? FileManager.default.removeItem(atPath: pendingPath)
        }
    }

    private func transaction(_ writes: [Write]) async throws {
        do {
            try await begin()
            for write in writes { try await apply(write) }
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    /// Whether an error is the database's state rather than the write's content: busy or locked, full, read-only,
    /// an I/O error, out of memory, or an error from outside SQLite. Such writes wait. A constraint, a type
    /// mismatch, an SQL error (malformed JSON in a row) or a record that cannot be encoded is the write's own.
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? SQLiteError else { return !(error is EncodingError) }
        let reason = "\(error.reason)"
        return ["busy", "locked", "full", "ioError", "noMemory", "readOnly", "readonly", "cantOpen", "interrupt", "proto"]
            .contains { reason.hasPrefix($0) }
    }

    /// Keeps a write the database refuses on its own in `metadata-rejected.jsonl`, one JSON line with the error.
    private func reject(_ write: Write, _ error: any Error) {
        struct Rejected: Encodable {
            var at: Date
            var error: String
            var write: Write
        }
        logger.error(
            "metadata store: a write was refused on its own; set aside in \(rejectedPath)", metadata: ["error": "\(error)", "write": "\(write.key)"])
        do {
            try setAside(try Self.fileEncoder.encode(Rejected(at: Date(), error: "\(error)", write: write)))
        } catch {
            logger.critical("metadata store: cannot keep a refused write in \(rejectedPath): \(error)", metadata: ["write": "\(write.key)"])
        }
    }

    /// The lines of `metadata-rejected.jsonl` that `pick` takes (given each line lowercased), as written.
    func setAsideLines(_ pick: (_ line: String) -> Bool) -> [Data] {
        guard let data = FileManager.default.contents(atPath: rejectedPath) else { return [] }
        return data.split(separator: 0x0A).filter { !$0.isEmpty && pick(String(decoding: $0, as: UTF8.self).lowercased()) }.map { Data($0) }
    }

    /// Rewrites `metadata-rejected.jsonl` without the lines `drop` picks (given each line lowercased, and its
    /// time); returns how many went. Retention and erasure reach set-aside writes through it.
    func pruneSetAside(_ drop: (_ line: String, _ at: Date?) -> Bool) -> Int {
        guard let data = FileManager.default.contents(atPath: rejectedPath) else { return 0 }
        struct Dated: Decodable { var at: Date }
        var kept = Data()
        var dropped = 0
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            let at = try? Self.fileDecoder.decode(Dated.self, from: line).at
            if drop(String(decoding: line, as: UTF8.self).lowercased(), at) {
                dropped += 1
            } else {
                kept.append(line)
                kept.append(0x0A)
            }
        }
        guard dropped > 0 else { return 0 }
        do {
            if kept.isEmpty {
                try FileManager.default.removeItem(atPath: rejectedPath)
            } else {
                try PrivateFile.replace(kept, at: rejectedPath)
            }
        } catch {
            logger.error("metadata store: cannot rewrite \(rejectedPath): \(error)")
            return 0
        }
        return dropped
    }

    /// Appends one line to `metadata-rejected.jsonl` (owner-only: it holds delivery metadata) and syncs it.
    private func setAside(_ line: Data) throws {
        if !FileManager.default.fileExists(atPath: rejectedPath) {
            guard FileManager.default.createFile(atPath: rejectedPath, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: rejectedPath])
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: rejectedPath))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line + Data([0x0A]))
        try handle.synchronize()
    }

    /// At shutdown: what the database could not take goes to `metadata-pending.jsonl` (written aside, then
    /// renamed; owner-only: it holds delivery metadata).
    private func savePending() {
        do {
            var data = Data()
            for write in batch {
                data.append(try Self.fileEncoder.encode(write))
                data.append(0x0A)
            }
            try PrivateFile.replace(data, at: pendingPath)
            logger.warning("metadata store: \(batch.count) writes could not be written before shutdown; kept in \(pendingPath) for the next start")
            batch = []
        } catch {
            logger.critical("metadata store: \(batch.count) writes are lost: cannot keep them in \(pendingPath): \(error)")
        }
    }

    /// At start: writes kept at the last shutdown go first. A line that cannot be read is set aside, not dropped.
    private func replayPending() async {
        guard let data = FileManager.default.contents(atPath: pendingPath) else { return }
        var writes: [Write] = []
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            do {
                writes.append(try Self.fileDecoder.decode(Write.self, from: line))
            } catch {
                logger.error("metadata store: an unreadable line in \(pendingPath) is kept in \(rejectedPath)", metadata: ["error": "\(error)"])
                struct Unreadable: Encodable {
                    var at: Date
                    var error: String
                    var line: String
                }
                do {
                    try setAside(try Self.fileEncoder.encode(Unreadable(at: Date(), error: "\(error)", line: String(decoding: line, as: UTF8.self))))
                } catch {
                    logger.critical("metadata store: cannot keep it: \(error)")
                }
            }
        }
        logger.notice("metadata store: writing \(writes.count) writes kept at the last shutdown (\(pendingPath))")
        batch = writes + batch
        replaying = true
        await flush()
    }

    static let fileEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
    static let fileDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    /// `BEGIN IMMEDIATE`, first ending a transaction a failed ROLLBACK may have left open.
    private func begin() async throws {
        do {
            _ = try await connection.query("BEGIN IMMEDIATE")
        } catch where "\(error)".contains("within a transaction") {
            _ = try await connection.query("ROLLBACK")
            _ = try await connection.query("BEGIN IMMEDIATE")
        }
    }

    private func acquire() async {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
    }

    private func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }

    /// Runs `body` with the connection to itself, after writing what is pending.
    func exclusive<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        await acquire()
        defer { release() }
        try? await writePending()
        return try await body()
    }

    private func apply(_ write: Write) async throws {
        switch write {
        case .record(let record):
            _ = try await connection.query(
                """
                INSERT OR IGNORE INTO deliveries
                    (message_id, recipient, customer_id, webhook_id, mode, status, attempts, received_at, next_attempt_at,
                     completed_at, final_reason, record)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(record.messageID), .integer(record.recipient), .text(record.customerID), .text(record.webhookID),
                    .text(record.mode.rawValue), .text(record.status.rawValue), .integer(record.attempts),
                    .integer(Self.millis(record.metadata.receivedAt)), Self.millis(record.nextAttemptAt), Self.millis(record.completedAt),
                    record.finalReason.map(SQLiteData.text) ?? .null, .text(try Self.encode(record.metadata)),
                ])
        case .attempt(let key, let number, let attempt):
            // Only for a delivery still on record: an attempt that ends after its delivery was erased leaves nothing.
            _ = try await connection.query(
                """
                INSERT OR REPLACE INTO attempts (message_id, recipient, number, at, duration_ms, status_code, outcome, detail)
                SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM deliveries WHERE message_id = ?1 AND recipient = ?2)
                """,
                [
                    .text(key.messageID), .integer(key.recipient), .integer(number), .integer(Self.millis(attempt.at)),
                    .integer(attempt.durationMilliseconds), attempt.statusCode.map(SQLiteData.integer) ?? .null,
                    .text(attempt.outcome), .text(String(attempt.detail.prefix(1000))),
                ])
        case .status(let key, let status, let attempts, let next, let completed, let reason, let response):
            // The server response goes into the record unless the customer redacted it: a redacted field is
            // never written (MessageMetadata.recordServerResponse states the same rule for records built in Swift).
            _ = try await connection.query(
                """
                UPDATE deliveries SET status = ?1, attempts = ?2, next_attempt_at = ?3, completed_at = ?4,
                    final_reason = COALESCE(?5, final_reason),
                    record = CASE
                        WHEN ?6 IS NULL THEN record
                        WHEN EXISTS (SELECT 1 FROM json_each(record, '$.redacted') WHERE value = 'server_response') THEN record
                        ELSE json_set(record, '$.server_response', ?6) END
                WHERE message_id = ?7 AND recipient = ?8
                """,
                [
                    .text(status.rawValue), .integer(attempts), Self.millis(next), Self.millis(completed),
                    reason.map(SQLiteData.text) ?? .null, response.map { .text(String($0.prefix(1000))) } ?? .null,
                    .text(key.messageID), .integer(key.recipient),
                ])
        }
    }

    // MARK: - Reading

    /// Deliveries matching the query, newest first.
    public func query(_ query: MetadataQuery) async throws -> [DeliveryRecord] {
        try await exclusive { try await run(query) }
    }

    private func run(_ query: MetadataQuery) async throws -> [DeliveryRecord] {
        var conditions = ["customer_id = ?"]
        var binds: [SQLiteData] = [.text(query.customerID)]
        if let since = query.since {
            conditions.append("received_at >= ?")
            binds.append(.integer(Self.millis(since)))
        }
        if let until = query.until {
            conditions.append("received_at < ?")
            binds.append(.integer(Self.millis(until)))
        }
        if let messageID = query.messageID {
            conditions.append("(message_id = ? OR json_extract(record, '$.message_id') = ?)")
            binds.append(contentsOf: [.text(messageID), .text(messageID)])
        }
        if let sender = query.sender {
            conditions.append("lower(json_extract(record, '$.envelope_from')) = lower(?)")
            binds.append(.text(sender))
        }
        if let recipient = query.recipient {
            conditions.append("lower(json_extract(record, '$.envelope_to')) = lower(?)")
            binds.append(.text(recipient))
        }
        binds.append(.integer(query.limit))
        let rows = try await connection.query(
            """
            SELECT message_id, recipient, customer_id, webhook_id, mode, status, attempts, next_attempt_at, completed_at,
                   final_reason, record
            FROM deliveries WHERE \(conditions.joined(separator: " AND "))
            ORDER BY received_at DESC, message_id, recipient LIMIT ?
            """, binds)
        return try rows.map(Self.record(from:))
    }

    /// One delivery and its attempts, oldest attempt first.
    public func delivery(_ key: DeliveryKey) async throws -> (DeliveryRecord, [DeliveryAttempt])? {
        try await exclusive { try await find(key) }
    }

    private func find(_ key: DeliveryKey) async throws -> (DeliveryRecord, [DeliveryAttempt])? {
        let rows = try await connection.query(
            """
            SELECT message_id, recipient, customer_id, webhook_id, mode, status, attempts, next_attempt_at, completed_at,
                   final_reason, record
            FROM deliveries WHERE message_id = ? AND recipient = ?
            """, [.text(key.messageID), .integer(key.recipient)])
        guard let row = rows.first else { return nil }
        let attempts = try await connection.query(
            "SELECT at, duration_ms, status_code, outcome, detail FROM attempts WHERE message_id = ? AND recipient = ? ORDER BY number",
            [.text(key.messageID), .integer(key.recipient)])
        return (
            try Self.record(from: row),
            attempts.map { row in
                DeliveryAttempt(
                    at: Self.date(row.column("at")) ?? .distantPast,
                    durationMilliseconds: row.column("duration_ms")?.integer ?? 0,
                    statusCode: row.column("status_code")?.integer, outcome: row.column("outcome")?.string ?? "",
                    detail: row.column("detail")?.string ?? "")
            }
        )
    }

    /// How many deliveries are in each status.
    public func countsByStatus() async throws -> [DeliveryStatus: Int] {
        try await exclusive { try await counts() }
    }

    private func counts() async throws -> [DeliveryStatus: Int] {
        var counts: [DeliveryStatus: Int] = [:]
        for row in try await connection.query("SELECT status, count(*) AS n FROM deliveries GROUP BY status") {
            if let status = row.column("status")?.string.flatMap(DeliveryStatus.init(rawValue:)) {
                counts[status] = row.column("n")?.integer ?? 0
            }
        }
        return counts
    }

    /// When the oldest delivery still queued arrived; nil with none queued.
    public func oldestQueued() async throws -> Date? {
        try await exclusive {
            Self.date(try await connection.query("SELECT min(received_at) AS oldest FROM deliveries WHERE status = 'queued'").first?.column("oldest"))
        }
    }

    // MARK: - Retention

    /// What one retention run changed.
    public struct RetentionResult: Sendable, Equatable {
        public var deletedRecords = 0
        public var deletedAttempts = 0
        public var maskedAddresses = 0
        /// Lines of `metadata-rejected.jsonl` past the metadata period.
        public var deletedSetAside = 0
    }

    /// Applies the region's policy: deletes finished metadata older than `message_metadata`, attempts older
    /// than `delivery_logs`, and masks sender IPs older than `ip_masking.after`.
    public func applyRetention(_ retention: RetentionPolicy, masking: IPMaskingPolicy, now: Date) async throws -> RetentionResult {
        try await exclusive { try await retain(retention, masking: masking, now: now) }
    }

    private func retain(_ retention: RetentionPolicy, masking: IPMaskingPolicy, now: Date) async throws -> RetentionResult {
        var result = RetentionResult()
        let metadataCutoff = Self.millis(now.addingTimeInterval(-Double(retention.messageMetadata.seconds)))
        let logCutoff = Self.millis(now.addingTimeInterval(-Double(retention.deliveryLogs.seconds)))
        let maskCutoff = Self.millis(now.addingTimeInterval(-Double(masking.after.seconds)))
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            // A deleted record takes its attempts with it.
            _ = try await connection.query(
                """
                DELETE FROM attempts WHERE (message_id, recipient) IN
                    (SELECT message_id, recipient FROM deliveries WHERE received_at < ? AND status <> 'queued')
                """, [.integer(metadataCutoff)])
            result.deletedRecords = try await connection.query(
                "DELETE FROM deliveries WHERE received_at < ? AND status <> 'queued' RETURNING message_id", [.integer(metadataCutoff)]
            ).count
            result.deletedAttempts = try await connection.query(
                "DELETE FROM attempts WHERE at < ? RETURNING message_id", [.integer(logCutoff)]
            ).count
            let unmasked = try await connection.query(
                "SELECT message_id, recipient, record FROM deliveries WHERE received_at < ? AND ip_masked = 0", [.integer(maskCutoff)])
            for row in unmasked {
                guard let text = row.column("record")?.string, let metadata = try? Self.decode(text) else { continue }
                _ = try await connection.query(
                    "UPDATE deliveries SET record = ?, ip_masked = 1 WHERE message_id = ? AND recipient = ?",
                    [.text(try Self.encode(metadata.maskingSenderIP(masking))), row.column("message_id") ?? .null, row.column("recipient") ?? .null])
                if metadata.senderIP != nil { result.maskedAddresses += 1 }
            }
            _ = try await connection.query(
                "DELETE FROM erasure_receipts WHERE at < ?", [.integer(Self.millis(now.addingTimeInterval(-Self.erasureReceiptPeriod)))])
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
        // Set-aside writes are kept no longer than the records they belong to.
        let oldest = now.addingTimeInterval(-Double(retention.messageMetadata.seconds))
        result.deletedSetAside = pruneSetAside { _, at in (at ?? .distantPast) < oldest }
        return result
    }

    // MARK: - Encoding

    static func millis(_ date: Date) -> Int { Int((date.timeIntervalSince1970 * 1000).rounded()) }
    static func millis(_ date: Date?) -> SQLiteData { date.map { .integer(millis($0)) } ?? .null }
    static func date(_ value: SQLiteData?) -> Date? {
        value?.integer.map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    static func encode(_ metadata: MessageMetadata) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> MessageMetadata {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(MessageMetadata.self, from: Data(text.utf8))
    }

    static func record(from row: SQLiteRow) throws -> DeliveryRecord {
        DeliveryRecord(
            messageID: row.column("message_id")?.string ?? "", recipient: row.column("recipient")?.integer ?? 0,
            customerID: row.column("customer_id")?.string ?? "", webhookID: row.column("webhook_id")?.string ?? "",
            mode: row.column("mode")?.string.flatMap(DeliveryMode.init(rawValue:)) ?? .queued,
            status: row.column("status")?.string.flatMap(DeliveryStatus.init(rawValue:)) ?? .queued,
            attempts: row.column("attempts")?.integer ?? 0, nextAttemptAt: date(row.column("next_attempt_at")),
            completedAt: date(row.column("completed_at")), finalReason: row.column("final_reason")?.string,
            metadata: try decode(row.column("record")?.string ?? "{}"))
    }
}

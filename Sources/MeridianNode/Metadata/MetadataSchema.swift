import SQLiteNIO

/// The metadata store's tables, as numbered migrations recorded in SQLite's `user_version`: a store made by
/// an older node is brought up to date when it opens, and a newer one is refused rather than misread.
enum MetadataSchema {
    static let pragmas = ["PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA busy_timeout = 5000"]

    /// Migration n takes the schema from version n - 1 to n; the statements of each run in one transaction.
    static let migrations: [[String]] = [
        // 1: deliveries (one row per recipient, the record as JSON) and attempts (the delivery log).
        [
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
        ],
        // 2: erasure receipts by request (counts only, no personal data): see MetadataStore+ErasureReceipts.
        ["CREATE TABLE IF NOT EXISTS erasure_receipts (request_id TEXT PRIMARY KEY, at INTEGER NOT NULL, receipt TEXT NOT NULL)"],
        // 3: the config version each attempt was made under.
        ["ALTER TABLE attempts ADD COLUMN config_version INTEGER"],
    ]

    static var latestVersion: Int { migrations.count }

    /// Applies the pragmas and every migration the store has not had; returns the versions applied.
    @discardableResult
    static func migrate(_ connection: SQLiteConnection) async throws -> [Int] {
        for pragma in pragmas { _ = try await connection.query(pragma) }
        var version = try await connection.query("PRAGMA user_version").first?.column("user_version")?.integer ?? 0
        if version == 0, try await !connection.query("SELECT 1 FROM sqlite_master WHERE name = 'deliveries'").isEmpty {
            // A store made before migrations were numbered: the first two are in it, with or without receipts.
            version = 1
        }
        guard version <= latestVersion else {
            throw NodeError(
                .metadataStoreTooNew,
                "the metadata store is at schema version \(version), newer than this node's \(latestVersion): run the newer meridian")
        }
        var applied: [Int] = []
        while version < latestVersion {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                for statement in migrations[version] { _ = try await connection.query(statement) }
                _ = try await connection.query("PRAGMA user_version = \(version + 1)")
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
            version += 1
            applied.append(version)
        }
        return applied
    }
}

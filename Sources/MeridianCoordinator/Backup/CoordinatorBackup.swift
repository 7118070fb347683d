import Foundation
import Logging
import MeridianCore
import SQLKit

/// Encrypted backups of the coordinator's database (``Backup`` is the file format): `pg_dump --format=custom`
/// for PostgreSQL, and for SQLite a consistent copy made by `VACUUM INTO` while the database stays in use. Each
/// backup's header lists the account purges of the audit log within the backups period, so that older backups
/// go within `deleted_customer_backups` of them.
public enum CoordinatorBackup {
    /// Snapshots the coordinator's database into `directory` and returns the new file's path.
    public static func make(
        _ location: DatabaseLocation, box: SecretBox, into directory: String, retention: Backup.Retention, at date: Date = Date()
    ) async throws -> String {
        let since = Timestamp.millis(date.addingTimeInterval(-Double(retention.backups.seconds)))
        let purges = "SELECT at_ms FROM audit_log WHERE action = 'customer.purge' AND at_ms >= \(since) ORDER BY at_ms"
        switch location {
        case .sqlite(let path):
            let snapshot = try await sqliteSnapshot(of: path)
            let erased = try await sqliteTimes(purges, in: path, table: "audit_log")
            return try Backup.write(
                .init(kind: .coordinatorSQLite, createdAt: date, source: path, bytes: snapshot.count, accountsErased: erased.nonEmpty),
                snapshot, box: box, into: directory)
        case .postgres(let postgres):
            let dump = try await PostgresTool.run(
                "pg_dump", ["--format=custom", "--no-owner", "--dbname", postgres.toolURL], input: nil, password: postgres.password)
            let psql = ["--no-psqlrc", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1", "--dbname", postgres.toolURL, "--command"]
            let hasLog = try await PostgresTool.run("psql", psql + ["SELECT to_regclass('audit_log') IS NOT NULL"], input: nil, password: postgres.password)
            var erased: [Date] = []
            if String(decoding: hasLog, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "t" {
                let lines = String(decoding: try await PostgresTool.run("psql", psql + [purges], input: nil, password: postgres.password), as: UTF8.self)
                erased = lines.split(whereSeparator: \.isNewline).compactMap { Int64($0.trimmingCharacters(in: .whitespaces)).map(Timestamp.date) }
            }
            return try Backup.write(
                .init(kind: .coordinatorPostgres, createdAt: date, source: postgres.database, bytes: dump.count, accountsErased: erased.nonEmpty),
                dump, box: box, into: directory)
        }
    }

    /// Restores a coordinator backup into `location`. A SQLite file is written only where none exists; a
    /// PostgreSQL database is restored with `pg_restore --clean`, replacing what it holds.
    public static func restore(_ path: String, box: SecretBox, to location: DatabaseLocation) async throws -> Backup.Header {
        let (header, payload) = try Backup.read(path, box: box)
        guard let payload else { throw CoordinatorError(.backupFailed, "nothing to restore in \(path)") }
        switch (header.kind, location) {
        case (.coordinatorSQLite, .sqlite(let target)):
            guard !FileManager.default.fileExists(atPath: target) else {
                throw CoordinatorError(.backupFailed, "\(target) exists; restore into a new path, stop the coordinator and move the files into place")
            }
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try PrivateFile.write(payload, to: target)
        case (.coordinatorPostgres, .postgres(let postgres)):
            _ = try await PostgresTool.run(
                "pg_restore", ["--clean", "--if-exists", "--no-owner", "--dbname", postgres.toolURL], input: payload, password: postgres.password)
        default:
            throw CoordinatorError(.backupFailed, "\(path) holds a \(header.kind.rawValue) backup, which cannot be restored into \(location)")
        }
        return header
    }

    /// A consistent copy of a SQLite database in use (WAL readers and writers go on), via `VACUUM INTO`.
    static func sqliteSnapshot(of path: String) async throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw CoordinatorError(.backupFailed, "no database at \(path)") }
        let copy = NSTemporaryDirectory() + "meridian-backup-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let store = try await SQLiteStore.open(path: path, logger: Logger(label: "meridian.backup"))
        do {
            try await store.withSession { db in try await db.raw("VACUUM INTO \(bind: copy)").run() }
            try await store.close()
        } catch {
            try? await store.close()
            throw CoordinatorError(.backupFailed, "cannot snapshot \(path): \(error)")
        }
        guard let data = FileManager.default.contents(atPath: copy) else { throw CoordinatorError(.backupFailed, "the snapshot of \(path) was not written") }
        return data
    }

    /// Times (milliseconds since 1970, in the query's first column) from a SQLite database; none if `table` is not there.
    static func sqliteTimes(_ query: String, in path: String, table: String) async throws -> [Date] {
        let store = try await SQLiteStore.open(path: path, logger: Logger(label: "meridian.backup"))
        do {
            let times = try await store.withSession { db in
                guard try await db.raw("SELECT name FROM sqlite_master WHERE type = 'table' AND name = \(bind: table)").first() != nil else {
                    return [Date]()
                }
                return try await db.raw(SQLQueryString(query)).all().map { Timestamp.date(try $0.decode(column: "at_ms", as: Int64.self)) }
            }
            try await store.close()
            return times
        } catch {
            try? await store.close()
            throw CoordinatorError(.backupFailed, "cannot read the account purges in \(path): \(error)")
        }
    }
}

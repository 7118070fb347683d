import Foundation
import Logging
import MeridianCore
import SQLKit

/// Encrypted backups of the coordinator's database and of a node's metadata store, kept for the backups
/// policy (90 days in Regions/), then deleted; those holding the data of an account deleted since go sooner
/// (`deleted_customer_backups`, 45 days after the deletion).
///
/// A backup file is `MRB1`, a line of JSON saying what it holds and when it was made, then the snapshot sealed
/// with AES-256-GCM under a 32-byte key (the coordinator's master key, or a node's backup key). The snapshot is
/// `pg_dump --format=custom` for PostgreSQL, and for SQLite a consistent copy made by `VACUUM INTO` while the
/// database stays in use.
public enum Backup {
    public enum Kind: String, Codable, Sendable {
        case coordinatorSQLite = "coordinator-sqlite", coordinatorPostgres = "coordinator-postgres", nodeMetadata = "node-metadata"
    }

    public struct Header: Codable, Sendable, Equatable {
        public var kind: Kind
        public var createdAt: Date
        /// Where it came from: the database file, the PostgreSQL database name, or the node's data directory.
        public var source: String
        public var bytes: Int
        /// For a node: the files kept beside its metadata store (`MetadataStore`'s pending and set-aside writes),
        /// sealed after the snapshot in this order. Absent when there were none.
        public var sideFiles: [SideFile]?
        /// When the source deleted an account's data (a purge on the coordinator, an account's erasure on a node),
        /// within the backups period before this backup: the times only, no account. Backups made before such a
        /// time go sooner (`deletion(of:accountsErased:retention:)`).
        public var accountsErased: [Date]?

        public init(
            kind: Kind, createdAt: Date, source: String, bytes: Int, sideFiles: [SideFile]? = nil, accountsErased: [Date]? = nil
        ) {
            (self.kind, self.createdAt, self.source, self.bytes) = (kind, createdAt, source, bytes)
            (self.sideFiles, self.accountsErased) = (sideFiles, accountsErased)
        }

        enum CodingKeys: String, CodingKey {
            case kind, createdAt = "created_at", source, bytes, sideFiles = "side_files", accountsErased = "accounts_erased"
        }
    }

    /// How long backups are kept: the backups policy, and the shorter one for the data of a deleted account.
    public struct Retention: Sendable, Equatable {
        public var backups: PolicyDuration
        public var deletedAccounts: PolicyDuration

        public init(backups: PolicyDuration, deletedAccounts: PolicyDuration) {
            (self.backups, self.deletedAccounts) = (backups, deletedAccounts)
        }

        /// From Regions/: a backup may hold every region's data, so it is kept for the longest `backups` period,
        /// and a deleted account's data leaves backups within the shortest `deleted_customer_backups` one.
        public init?(_ catalog: RegionCatalog) {
            guard let backups = catalog.regions.map(\.retention.backups).max(),
                let deleted = catalog.regions.map(\.retention.deletedCustomerBackups).min()
            else { return nil }
            self.init(backups: backups, deletedAccounts: min(deleted, backups))
        }
    }

    /// A file of a node's data directory held in its backup after the snapshot.
    public struct SideFile: Codable, Sendable, Equatable {
        public var name: String
        public var bytes: Int
    }

    /// The files a node keeps beside `metadata.sqlite` that hold metadata too: writes still pending at a shutdown
    /// the store could not finish, and writes the database refused (see `MetadataStore`).
    public static let nodeSideFiles = ["metadata-pending.jsonl", "metadata-rejected.jsonl"]

    static let magic = Data("MRB1\n".utf8)
    public static let fileExtension = "mrbk"

    // MARK: - Making

    /// Snapshots the coordinator's database into `directory` and returns the new file's path. The header lists
    /// the account purges of the audit log within `retention`'s backups period.
    public static func coordinator(
        _ location: DatabaseLocation, box: SecretBox, into directory: String, retention: Retention, at date: Date = Date()
    ) async throws -> String {
        let since = Timestamp.millis(date.addingTimeInterval(-Double(retention.backups.seconds)))
        let purges = "SELECT at_ms FROM audit_log WHERE action = 'customer.purge' AND at_ms >= \(since) ORDER BY at_ms"
        switch location {
        case .sqlite(let path):
            let snapshot = try await sqliteSnapshot(of: path)
            let erased = try await sqliteTimes(purges, in: path, table: "audit_log")
            return try write(
                Header(kind: .coordinatorSQLite, createdAt: date, source: path, bytes: snapshot.count, accountsErased: erased.nonEmpty),
                snapshot, box: box, into: directory)
        case .postgres(let postgres):
            let dump = try run("pg_dump", ["--format=custom", "--no-owner", "--dbname", postgres.toolURL], input: nil, password: postgres.password)
            let psql = ["--no-psqlrc", "--tuples-only", "--no-align", "--set", "ON_ERROR_STOP=1", "--dbname", postgres.toolURL, "--command"]
            let hasLog = try run("psql", psql + ["SELECT to_regclass('audit_log') IS NOT NULL"], input: nil, password: postgres.password)
            var erased: [Date] = []
            if String(decoding: hasLog, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "t" {
                let lines = String(decoding: try run("psql", psql + [purges], input: nil, password: postgres.password), as: UTF8.self)
                erased = lines.split(whereSeparator: \.isNewline).compactMap { Int64($0.trimmingCharacters(in: .whitespaces)).map(Timestamp.date) }
            }
            return try write(
                Header(kind: .coordinatorPostgres, createdAt: date, source: postgres.database, bytes: dump.count, accountsErased: erased.nonEmpty),
                dump, box: box, into: directory)
        }
    }

    /// Snapshots a node's metadata store (`DATA-DIR/metadata.sqlite`), with the files kept beside it and the
    /// times the node erased an account's data (`DATA-DIR/accounts-erased.json`, written by the node).
    public static func node(dataDirectory: String, box: SecretBox, into directory: String, at date: Date = Date()) async throws -> String {
        let path = (dataDirectory as NSString).appendingPathComponent("metadata.sqlite")
        guard FileManager.default.fileExists(atPath: path) else { throw BackupError("no metadata store at \(path): is --node-data a node's data directory?") }
        var payload = try await sqliteSnapshot(of: path)
        var header = Header(kind: .nodeMetadata, createdAt: date, source: dataDirectory, bytes: payload.count)
        header.accountsErased = AccountErasures.read(dataDirectory: dataDirectory).nonEmpty
        for name in nodeSideFiles {
            guard let contents = FileManager.default.contents(atPath: (dataDirectory as NSString).appendingPathComponent(name)) else { continue }
            header.sideFiles = (header.sideFiles ?? []) + [SideFile(name: name, bytes: contents.count)]
            payload.append(contents)
        }
        return try write(header, payload, box: box, into: directory)
    }

    /// A consistent copy of a SQLite database in use (WAL readers and writers go on), via `VACUUM INTO`.
    static func sqliteSnapshot(of path: String) async throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw BackupError("no database at \(path)") }
        let copy = NSTemporaryDirectory() + "meridian-backup-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let store = try await SQLiteStore.open(path: path, logger: Logger(label: "meridian.backup"))
        do {
            try await store.withSession { db in try await db.raw("VACUUM INTO \(bind: copy)").run() }
            try await store.close()
        } catch {
            try? await store.close()
            throw BackupError("cannot snapshot \(path): \(error)")
        }
        guard let data = FileManager.default.contents(atPath: copy) else { throw BackupError("the snapshot of \(path) was not written") }
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
            throw BackupError("cannot read the account purges in \(path): \(error)")
        }
    }

    static func write(_ header: Header, _ payload: Data, box: SecretBox, into directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        var file = magic
        file.append(try encoder.encode(header))
        file.append(0x0A)
        file.append(try box.seal(bytes: payload))
        let stamp = ISOTime.string(header.createdAt).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        let path = (directory as NSString).appendingPathComponent("\(header.kind.rawValue)-\(stamp).\(fileExtension)")
        try PrivateFile.write(file, to: path)
        return path
    }

    // MARK: - Reading and restoring

    public static func header(of path: String) throws -> Header {
        try read(path, box: nil).header
    }

    /// The header, and with a key the decrypted snapshot (a wrong key or a changed byte is an error).
    static func read(_ path: String, box: SecretBox?) throws -> (header: Header, payload: Data?) {
        guard let file = FileManager.default.contents(atPath: path) else { throw BackupError("cannot read \(path)") }
        guard file.starts(with: magic), let end = file[magic.count...].firstIndex(of: 0x0A) else {
            throw BackupError("\(path) is not a Meridian backup (it does not start with MRB1)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let header = try? decoder.decode(Header.self, from: file[magic.count..<end]) else { throw BackupError("\(path) has a damaged header") }
        guard let box else { return (header, nil) }
        do {
            return (header, try box.open(bytes: Data(file[(end + 1)...])))
        } catch {
            throw BackupError("\(path) does not decrypt with this key, or was changed after it was written")
        }
    }

    /// Restores a coordinator backup into `location`. A SQLite file is written only where none exists; a
    /// PostgreSQL database is restored with `pg_restore --clean`, replacing what it holds.
    public static func restore(_ path: String, box: SecretBox, to location: DatabaseLocation) throws -> Header {
        let (header, payload) = try read(path, box: box)
        guard let payload else { throw BackupError("nothing to restore in \(path)") }
        switch (header.kind, location) {
        case (.coordinatorSQLite, .sqlite(let target)), (.nodeMetadata, .sqlite(let target)):
            let directory = (target as NSString).deletingLastPathComponent
            let sideFiles = try sideFiles(of: header, in: payload, path: path)
            for file in [target] + sideFiles.map({ (directory as NSString).appendingPathComponent($0.name) }) {
                guard !FileManager.default.fileExists(atPath: file) else {
                    let owner = header.kind == .nodeMetadata ? "node" : "coordinator"
                    throw BackupError("\(file) exists; restore into a new path, stop the \(owner) and move the files into place")
                }
            }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try PrivateFile.write(payload.prefix(header.bytes), to: target)
            for file in sideFiles { try PrivateFile.write(file.contents, to: (directory as NSString).appendingPathComponent(file.name)) }
        case (.coordinatorPostgres, .postgres(let postgres)):
            _ = try run("pg_restore", ["--clean", "--if-exists", "--no-owner", "--dbname", postgres.toolURL], input: payload, password: postgres.password)
        default:
            throw BackupError("\(path) holds a \(header.kind.rawValue) backup, which cannot be restored into \(location)")
        }
        return header
    }

    /// The side files sealed after a node's snapshot, checked against the header: only the names a node keeps,
    /// and sizes that add up to the payload.
    static func sideFiles(of header: Header, in payload: Data, path: String) throws -> [(name: String, contents: Data)] {
        guard (0...payload.count).contains(header.bytes) else { throw BackupError("\(path) has a damaged header (\(header.bytes) bytes)") }
        var offset = payload.startIndex + header.bytes
        var files: [(name: String, contents: Data)] = []
        for file in header.sideFiles ?? [] {
            guard nodeSideFiles.contains(file.name), file.bytes >= 0, offset + file.bytes <= payload.endIndex else {
                throw BackupError("\(path) has a damaged header (side file \(file.name), \(file.bytes) bytes)")
            }
            files.append((file.name, Data(payload[offset..<offset + file.bytes])))
            offset += file.bytes
        }
        guard offset == payload.endIndex else { throw BackupError("\(path) has a damaged header (its sizes do not add up to its contents)") }
        return files
    }

    // MARK: - Retention

    /// When a backup is deleted, and why: the backups period after it was made, or sooner, the deleted-accounts
    /// period after the first account erasure that followed it (its data is in the backup, gone from the source).
    /// Times are whole seconds: an erasure in the second the backup was made counts as after it.
    public static func deletion(of header: Header, accountsErased: [Date], retention: Retention) -> (at: Date, reason: String) {
        let due = header.createdAt.addingTimeInterval(Double(retention.backups.seconds))
        guard let erased = accountsErased.filter({ $0 >= header.createdAt }).min() else { return (due, "backups policy, \(retention.backups)") }
        let sooner = erased.addingTimeInterval(Double(retention.deletedAccounts.seconds))
        guard sooner < due else { return (due, "backups policy, \(retention.backups)") }
        return (sooner, "an account deleted \(ISOTime.string(erased).prefix(10)), deleted_customer_backups \(retention.deletedAccounts)")
    }

    /// The backups in `directory`, oldest first, with their headers (nil for a file that cannot be read), and the
    /// account erasures their headers record: the union, since any of them may hold a deleted account's data.
    public static func inventory(_ directory: String) -> (backups: [(path: String, header: Header?)], accountsErased: [Date]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix("." + fileExtension) }.sorted()
        let backups = names.map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            return (path, try? header(of: path))
        }
        return (backups, Array(Set(backups.flatMap { $0.1?.accountsErased ?? [] })).sorted())
    }

    /// Deletes the backups in `directory` whose deletion (`deletion(of:...)`) is due by `date`; returns their
    /// paths. Files that are not Meridian backups are left alone.
    public static func prune(_ directory: String, retention: Retention, at date: Date = Date()) throws -> [String] {
        let (backups, erased) = inventory(directory)
        var deleted: [String] = []
        for (path, header) in backups {
            guard let header, deletion(of: header, accountsErased: erased, retention: retention).at <= date else { continue }
            try FileManager.default.removeItem(atPath: path)
            deleted.append(path)
        }
        return deleted
    }

    // MARK: - Tools

    /// Runs a PostgreSQL client tool and returns its standard output; its standard error is the error.
    static func run(_ tool: String, _ arguments: [String], input: Data?, password: String?) throws -> Data {
        let candidates = ["/usr/bin/\(tool)"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin/\(tool)" }
        guard let executable = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw BackupError("\(tool) is not installed (Debian: apt-get install postgresql-client)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        if let password { environment["PGPASSWORD"] = password }
        process.environment = environment
        let output = Pipe(), errors = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        // Read both pipes while the tool runs, so that neither fills up and blocks it.
        let collected = DispatchGroup()
        nonisolated(unsafe) var out = Data(), err = Data()
        collected.enter()
        DispatchQueue.global().async { out = output.fileHandleForReading.readDataToEndOfFile(); collected.leave() }
        collected.enter()
        DispatchQueue.global().async { err = errors.fileHandleForReading.readDataToEndOfFile(); collected.leave() }
        if let input {
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        collected.wait()
        guard process.terminationStatus == 0 else {
            throw BackupError("\(tool) failed (exit \(process.terminationStatus)): \(String(decoding: err.prefix(2000), as: UTF8.self))")
        }
        return out
    }
}

/// Why a backup or a restore did not happen, said so an operator can act.
public struct BackupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Array {
    /// nil when empty, so that an optional field is left out rather than written as `[]`.
    var nonEmpty: [Element]? { isEmpty ? nil : self }
}

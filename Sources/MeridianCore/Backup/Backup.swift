import Foundation

/// The file format of Meridian's encrypted backups, shared by the coordinator's and a node's (their snapshots
/// are made by `CoordinatorBackup` and `NodeBackup`), and the rule of when each is deleted: after the backups
/// policy (90 days in Regions/), or sooner, `deleted_customer_backups` (45 days) after an account deletion that
/// followed it.
///
/// A backup file is `MRB1`, a line of JSON saying what it holds and when it was made, then the snapshot sealed
/// with AES-256-GCM under a 32-byte key (the coordinator's master key, or a node's backup key).
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

        public init(name: String, bytes: Int) {
            self.name = name
            self.bytes = bytes
        }
    }

    static let magic = Data("MRB1\n".utf8)
    public static let fileExtension = "mrbk"

    // MARK: - Writing and reading

    /// Seals `payload` under `box` with its header into a new file in `directory`; returns its path.
    public static func write(_ header: Header, _ payload: Data, box: SecretBox, into directory: String) throws -> String {
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

    public static func header(of path: String) throws -> Header {
        try read(path, box: nil).header
    }

    /// The header, and with a key the decrypted snapshot (a wrong key or a changed byte is an error).
    public static func read(_ path: String, box: SecretBox?) throws -> (header: Header, payload: Data?) {
        guard let file = FileManager.default.contents(atPath: path) else { throw CoreError(.backupUnreadable, "cannot read \(path)") }
        guard file.starts(with: magic), let end = file[magic.count...].firstIndex(of: 0x0A) else {
            throw CoreError(.backupUnreadable, "\(path) is not a Meridian backup (it does not start with MRB1)")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let header = try? decoder.decode(Header.self, from: file[magic.count..<end]) else { throw CoreError(.backupUnreadable, "\(path) has a damaged header") }
        guard let box else { return (header, nil) }
        do {
            return (header, try box.open(bytes: Data(file[(end + 1)...])))
        } catch {
            throw CoreError(.backupWrongKey, "\(path) does not decrypt with this key, or was changed after it was written")
        }
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
}

extension Array {
    /// nil when empty, so that an optional field is left out rather than written as `[]`.
    public var nonEmpty: [Element]? { isEmpty ? nil : self }
}

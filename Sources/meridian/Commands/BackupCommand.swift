import ArgumentParser
import Foundation
import MeridianCoordinator
import MeridianCore
import MeridianNode

/// `meridian backup ...`: encrypted backups of the coordinator's database and of a node's metadata store, their
/// retention and their restore.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Make, list, prune and restore encrypted backups (kept for the backups policy, 90 days).",
        subcommands: [Create.self, List.self, Prune.self, Restore.self])

    /// Which store, and the key that seals it: the coordinator's master key, or a node's backup key.
    struct Source: ParsableArguments {
        @OptionGroup var coordinator: CoordinatorCommand.Options
        @Option(help: "Back up (or restore) a node's metadata store in this data directory instead of the coordinator.")
        var nodeData: String?
        @Option(help: "A node backup's key: 32 bytes (default: NODE-DATA/backup.key, created on first use; keep a copy away from the backups).")
        var keyFile: String?

        func box() throws -> SecretBox {
            if let nodeData {
                let path = keyFile ?? (nodeData as NSString).appendingPathComponent("backup.key")
                if FileManager.default.fileExists(atPath: path) {
                    guard let bytes = FileManager.default.contents(atPath: path), let box = SecretBox(keyBytes: bytes) else {
                        throw ValidationError("--key-file \(path) must hold exactly 32 bytes")
                    }
                    return box
                }
                guard keyFile == nil else { throw ValidationError("--key-file \(path) does not exist") }
                let bytes = SecretBox.generateKeyBytes()
                try PrivateFile.write(bytes, to: path)
                say("created the node backup key \(path); keep a copy away from the backups, which cannot be read without it")
                return SecretBox(keyBytes: bytes)!
            }
            let keyPath = (coordinator.dataDir as NSString).appendingPathComponent("master.key")
            guard ProcessInfo.processInfo.environment["MERIDIAN_MASTER_KEY"] != nil || FileManager.default.fileExists(atPath: keyPath) else {
                throw ValidationError("no master key at \(keyPath) and MERIDIAN_MASTER_KEY is not set: point --data-dir at the coordinator's")
            }
            do { return try MasterKey.load(dataDirectory: coordinator.dataDir) } catch { throw ValidationError("\(error)") }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Snapshot the coordinator's database (or a node's metadata), encrypted, into --out.")
        @OptionGroup var source: Source
        @Option(help: "The backup directory.") var out: String

        func run() async throws {
            let box = try source.box()
            let path: String
            do {
                if let nodeData = source.nodeData {
                    path = try await NodeBackup.make(dataDirectory: nodeData, box: box, into: out)
                } else {
                    path = try await CoordinatorBackup.make(
                        try source.coordinator.location(), box: box, into: out, retention: try BackupCommand.retention(source.coordinator.regions))
                }
            } catch let error as CoordinatorError {
                throw ValidationError(error.description)
            } catch let error as NodeError {
                throw ValidationError(error.description)
            }
            let header = try Backup.header(of: path)
            let sideFiles = (header.sideFiles ?? []).map { "\($0.name), \($0.bytes) bytes" }
            print("wrote \(path) (\(header.kind.rawValue), \(header.bytes) bytes before encryption\(sideFiles.isEmpty ? "" : "; with " + sideFiles.joined(separator: "; ")))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The backups in a directory, with when each is deleted.")
        @Option(help: "The backup directory.") var dir: String
        @Option(help: "The Regions directory (its backups policies).") var regions = "Regions"

        func run() async throws {
            let retention = try BackupCommand.retention(regions)
            let (backups, erased) = Backup.inventory(dir)
            printTable(
                ["FILE", "KIND", "MADE", "DELETED AFTER", "WHY", "BYTES"],
                backups.map { path, header in
                    let name = (path as NSString).lastPathComponent
                    guard let header else { return [name, "unreadable", "", "", "", ""] }
                    let deletion = Backup.deletion(of: header, accountsErased: erased, retention: retention)
                    return [name, header.kind.rawValue, iso(header.createdAt), iso(deletion.at), deletion.reason, "\(header.bytes)"]
                })
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete backups past the backups policy, or past deleted_customer_backups after an account deletion (what the coordinator's backup job does daily).")
        @Option(help: "The backup directory.") var dir: String
        @Option(help: "The Regions directory (its backups policies).") var regions = "Regions"

        func run() async throws {
            let deleted = try Backup.prune(dir, retention: try BackupCommand.retention(regions))
            for path in deleted { print("deleted \(path)") }
            print("\(deleted.count) backup\(deleted.count == 1 ? "" : "s") past the backups policies deleted")
        }
    }

    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup: into --database (a new SQLite path, or a PostgreSQL database, replaced), or a node's --node-data.")
        @OptionGroup var source: Source
        @Argument(help: "The backup file.") var file: String

        func run() async throws {
            let box = try source.box()
            do {
                let header: Backup.Header
                let target: String
                if let nodeData = source.nodeData {
                    header = try NodeBackup.restore(file, box: box, dataDirectory: nodeData)
                    target = "sqlite:" + (nodeData as NSString).appendingPathComponent("metadata.sqlite")
                } else {
                    let location = try source.coordinator.location()
                    header = try await CoordinatorBackup.restore(file, box: box, to: location)
                    target = location.description
                }
                let sideFiles = (header.sideFiles ?? []).map(\.name)
                print("restored the \(header.kind.rawValue) backup of \(iso(header.createdAt)) into \(target)\(sideFiles.isEmpty ? "" : ", with " + sideFiles.joined(separator: " and ") + " beside it")")
            } catch let error as CoordinatorError {
                throw ValidationError(error.description)
            } catch let error as NodeError {
                throw ValidationError(error.description)
            } catch let error as CoreError {
                throw ValidationError(error.description)
            }
        }
    }

    /// The longest backups period of any region (a backup may hold every region's coordinator data), and the
    /// shortest deleted_customer_backups one.
    static func retention(_ regions: String) throws -> Backup.Retention {
        guard let retention = Backup.Retention(try loadCatalog(regions)) else { throw ValidationError("\(regions) defines no region") }
        return retention
    }
}

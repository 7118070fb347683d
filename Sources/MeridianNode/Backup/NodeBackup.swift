import Foundation
import Logging
import MeridianCore
import NIOPosix
import SQLiteNIO

/// Encrypted backups of a node's metadata (``Backup`` is the file format): a consistent copy of
/// `metadata.sqlite` made by `VACUUM INTO` while the node runs, then the files the store keeps beside it
/// (writes pending at a shutdown, writes set aside), and in the header the times the node erased an account's
/// data (`accounts-erased.json`), so that older backups go within `deleted_customer_backups` of them.
public enum NodeBackup {
    /// The files a node keeps beside `metadata.sqlite` that hold metadata too (see `MetadataStore+Writing`).
    public static let sideFileNames = ["metadata-pending.jsonl", "metadata-rejected.jsonl"]

    /// Snapshots the node's metadata in `dataDirectory` into `directory`; returns the new file's path.
    public static func make(dataDirectory: String, box: SecretBox, into directory: String, at date: Date = Date()) async throws -> String {
        let path = (dataDirectory as NSString).appendingPathComponent("metadata.sqlite")
        guard FileManager.default.fileExists(atPath: path) else {
            throw NodeError(.backupFailed, "no metadata store at \(path): is --node-data a node's data directory?")
        }
        var payload = try await snapshot(of: path)
        var header = Backup.Header(kind: .nodeMetadata, createdAt: date, source: dataDirectory, bytes: payload.count)
        header.accountsErased = AccountErasures.read(dataDirectory: dataDirectory).nonEmpty
        for name in sideFileNames {
            guard let contents = FileManager.default.contents(atPath: (dataDirectory as NSString).appendingPathComponent(name)) else { continue }
            header.sideFiles = (header.sideFiles ?? []) + [Backup.SideFile(name: name, bytes: contents.count)]
            payload.append(contents)
        }
        return try Backup.write(header, payload, box: box, into: directory)
    }

    /// Restores a node backup into `dataDirectory`: `metadata.sqlite` and its side files, none of which may exist
    /// there yet (nothing is overwritten, and nothing is written when one does).
    public static func restore(_ path: String, box: SecretBox, dataDirectory: String) throws -> Backup.Header {
        let (header, payload) = try Backup.read(path, box: box)
        guard let payload else { throw NodeError(.backupFailed, "nothing to restore in \(path)") }
        guard header.kind == .nodeMetadata else {
            throw NodeError(.backupFailed, "\(path) holds a \(header.kind.rawValue) backup, not a node's; restore it with --database")
        }
        let target = (dataDirectory as NSString).appendingPathComponent("metadata.sqlite")
        let sideFiles = try sideFiles(of: header, in: payload, path: path)
        for file in [target] + sideFiles.map({ (dataDirectory as NSString).appendingPathComponent($0.name) }) {
            guard !FileManager.default.fileExists(atPath: file) else {
                throw NodeError(.backupFailed, "\(file) exists; restore into a new path, stop the node and move the files into place")
            }
        }
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try PrivateFile.write(payload.prefix(header.bytes), to: target)
        for file in sideFiles { try PrivateFile.write(file.contents, to: (dataDirectory as NSString).appendingPathComponent(file.name)) }
        return header
    }

    /// The side files sealed after the snapshot, checked against the header: only the names a node keeps, and
    /// sizes that add up to the payload.
    static func sideFiles(of header: Backup.Header, in payload: Data, path: String) throws -> [(name: String, contents: Data)] {
        guard (0...payload.count).contains(header.bytes) else { throw NodeError(.backupFailed, "\(path) has a damaged header (\(header.bytes) bytes)") }
        var offset = payload.startIndex + header.bytes
        var files: [(name: String, contents: Data)] = []
        for file in header.sideFiles ?? [] {
            guard sideFileNames.contains(file.name), file.bytes >= 0, offset + file.bytes <= payload.endIndex else {
                throw NodeError(.backupFailed, "\(path) has a damaged header (side file \(file.name), \(file.bytes) bytes)")
            }
            files.append((file.name, Data(payload[offset..<offset + file.bytes])))
            offset += file.bytes
        }
        guard offset == payload.endIndex else { throw NodeError(.backupFailed, "\(path) has a damaged header (its sizes do not add up to its contents)") }
        return files
    }

    /// A consistent copy of the metadata store in use (the node's reads and writes go on), via `VACUUM INTO`.
    static func snapshot(of path: String) async throws -> Data {
        let copy = NSTemporaryDirectory() + "meridian-backup-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path), threadPool: .singleton, logger: Logger(label: "meridian.backup"),
            on: MultiThreadedEventLoopGroup.singleton.any())
        do {
            _ = try await connection.query("VACUUM INTO ?", [.text(copy)])
            try await connection.close()
        } catch {
            try? await connection.close()
            throw NodeError(.backupFailed, "cannot snapshot \(path): \(error)")
        }
        guard let data = FileManager.default.contents(atPath: copy) else { throw NodeError(.backupFailed, "the snapshot of \(path) was not written") }
        return data
    }
}

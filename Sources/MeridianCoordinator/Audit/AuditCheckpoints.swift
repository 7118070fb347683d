import Crypto
import Foundation
import Logging
import MeridianCore
import Synchronization

/// Signs checkpoints of the audit log's head (``AuditCheckpoint``) and keeps them outside the database: one JSON
/// line each in `DATA-DIR/audit-checkpoints.jsonl` (owner-only, appended and synced), the newest also served
/// as `/.well-known/audit-checkpoint` for anyone to keep. A checkpoint is signed when the log has grown by
/// ``entriesPerCheckpoint`` entries, or has grown at all and the last one is ``interval`` old.
public final class AuditCheckpoints: Sendable {
    let audit: any AuditLog
    let key: Curve25519.Signing.PrivateKey
    let path: String
    let interval: TimeInterval
    let entriesPerCheckpoint: Int64
    let now: @Sendable () -> Date
    let logger: Logger
    private let newestKept = Mutex<AuditCheckpoint?>(nil)

    public static let fileName = "audit-checkpoints.jsonl"

    public init(
        audit: any AuditLog, key: Curve25519.Signing.PrivateKey, dataDirectory: String, interval: TimeInterval = 300,
        entriesPerCheckpoint: Int64 = 1000, now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.audit = audit
        self.key = key
        self.path = (dataDirectory as NSString).appendingPathComponent(Self.fileName)
        self.interval = interval
        self.entriesPerCheckpoint = entriesPerCheckpoint
        self.now = now
        self.logger = logger
        newestKept.withLock { $0 = (try? Self.read(path))?.last }
    }

    /// The newest checkpoint signed, if any.
    public var newest: AuditCheckpoint? { newestKept.withLock { $0 } }

    /// Every checkpoint in the file, oldest first.
    public func all() throws -> [AuditCheckpoint] { try Self.read(path) }

    /// Signs a checkpoint when one is due; returns it.
    @discardableResult
    public func runOnce() async throws -> AuditCheckpoint? {
        guard let head = try await audit.head() else { return nil }
        let date = now()
        if let last = newest {
            guard head.sequence > last.sequence else {
                if head.sequence < last.sequence {
                    logger.critical(
                        "audit: the log is shorter than its last checkpoint: entries were deleted",
                        metadata: ["log_ends_at": "\(head.sequence)", "checkpoint": "\(last.sequence)"])
                }
                return nil
            }
            guard head.sequence - last.sequence >= entriesPerCheckpoint || date.timeIntervalSince(last.at) >= interval else { return nil }
        }
        let checkpoint = try AuditCheckpoint.sign(head, at: date, with: key)
        try append(checkpoint)
        newestKept.withLock { $0 = checkpoint }
        return checkpoint
    }

    private func append(_ checkpoint: AuditCheckpoint) throws {
        let line = Data((try checkpoint.jsonLine() + "\n").utf8)
        if !FileManager.default.fileExists(atPath: path) {
            try PrivateFile.write(Data(), to: path)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
        try handle.synchronize()
    }

    /// The checkpoints of a file, oldest first; a line that does not decode is an error naming it.
    public static func read(_ path: String) throws -> [AuditCheckpoint] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").enumerated().map { index, line in
            do {
                return try decoder.decode(AuditCheckpoint.self, from: Data(line.utf8))
            } catch {
                throw CoordinatorError(.checkpointUnreadable, "\(path), line \(index + 1): not an audit checkpoint (\(error))")
            }
        }
    }
}

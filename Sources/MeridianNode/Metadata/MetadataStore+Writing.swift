import Foundation
import MeridianCore
import SQLiteNIO

/// The batching writer's rules: what is tried again, what is set aside, and what is kept across a shutdown.
extension MetadataStore {
    /// Called with the connection held. A batch that fails because of the database (locked, full, an I/O
    /// error) is kept at the head of the queue and the error is thrown: the store's loop tries again a second
    /// later. One that fails for its content is written one write at a time, and a write still refused alone is
    /// set aside (`reject`).
    func writePending() async throws {
        while !batch.isEmpty {
            let writes = batch
            batch = []
            var failure: (any Error)?
            do {
                try await write(writes)
            } catch where !Self.isTransient(error) {
                logger.warning(
                    "metadata store: the database refused a batch of \(writes.count) writes; writing them one at a time",
                    metadata: ["error": "\(error)"])
                for (index, write) in writes.enumerated() {
                    do {
                        try await self.write([write])
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
                throw failure
            }
        }
        if replaying {
            replaying = false
            pending.remove()
        }
    }

    private func write(_ writes: [MetadataWrite]) async throws {
        try await inTransaction {
            for write in writes { try await write.apply(on: connection) }
        }
    }

    /// Whether an error is the database's state rather than the write's content: busy or locked, full, read-only,
    /// an I/O error, out of memory, or an error from outside SQLite. Such writes wait. A constraint, a type
    /// mismatch, an SQL error (malformed JSON in a row) or a record that cannot be encoded is the write's own.
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? SQLiteError else { return !(error is EncodingError) }
        switch error.reason {
        case .busy, .busyInRecovery, .busyInSnapshot, .busyTimeout, .locked, .lockedBySharedCache, .lockedVirtualTable, .full, .noMemory,
            .interrupt, .proto, .readOnly, .readonlyInRecovery, .readonlyCantLock, .readonlyInRollback, .readonlyBackingMoved,
            .readonlyDirectory, .cantOpen, .cantOpenDirectory, .cantOpenInvalidPath, .cantOpenCygwinPath, .cantOpenUnfollowedSymlink,
            .ioError, .ioErrorFailedRead, .ioErrorIncompleteRead, .ioErrorFailedWrite, .ioErrorFailedSync, .ioErrorFailedDirSync,
            .ioErrorFailedTruncate, .ioErrorFailedStat, .ioErrorFailedUnlock, .ioErrorFailedReadLock, .ioErrorFailedDelete,
            .ioErrorNoMemory, .ioErrorFailedAccess, .ioErrorFailedLockCheck, .ioErrorFailedAdvisoryLock, .ioErrorFailedClose,
            .ioErrorFailedSharedMemOpen, .ioErrorFailedSharedMemSize, .ioErrorFailedSharedMemMap, .ioErrorFailedDeleteNonexistent,
            .ioErrorFailedMemoryMap, .ioErrorCantFindTempdir, .ioErrorCygwinPath, .ioErrorBadDataChecksum, .ioErrorCorruptedFilesystem:
            return true
        default:
            return false
        }
    }

    /// A write the database refused on its own, as `metadata-rejected.jsonl` keeps it.
    struct Rejected: Codable {
        var at: Date
        var error: String
        var write: MetadataWrite
    }

    /// A line of `metadata-pending.jsonl` that could not be read, as `metadata-rejected.jsonl` keeps it.
    struct Unreadable: Codable {
        var at: Date
        var error: String
        var line: String
    }

    /// Keeps a write the database refuses on its own in `metadata-rejected.jsonl`, one JSON line with the error.
    private func reject(_ write: MetadataWrite, _ error: any Error) {
        logger.error(
            "metadata store: a write was refused on its own; set aside in \(setAside.path)", metadata: ["error": "\(error)", "write": "\(write.key)"])
        do {
            try setAside.append(Rejected(at: now(), error: "\(error)", write: write))
        } catch {
            logger.critical("metadata store: cannot keep a refused write in \(setAside.path): \(error)", metadata: ["write": "\(write.key)"])
        }
    }

    /// At shutdown: what the database could not take goes to `metadata-pending.jsonl`.
    func savePending() {
        do {
            try pending.replace(with: batch)
            logger.warning("metadata store: \(batch.count) writes could not be written before shutdown; kept in \(pending.path) for the next start")
            batch = []
        } catch {
            logger.critical("metadata store: \(batch.count) writes are lost: cannot keep them in \(pending.path): \(error)")
        }
    }

    /// After shutdown: a write that arrived late joins `metadata-pending.jsonl`.
    func keepForNextStart(_ writes: [MetadataWrite]) {
        do {
            for write in writes { try pending.append(write) }
        } catch {
            logger.critical("metadata store: a write after shutdown is lost: cannot keep it in \(pending.path): \(error)")
        }
    }

    /// At start: writes kept at the last shutdown go first. A line that cannot be read is set aside, not dropped.
    func replayPending() async {
        let lines = pending.lines()
        guard pending.exists else { return }
        var writes: [MetadataWrite] = []
        for line in lines {
            do {
                writes.append(try JSONLinesFile.decoder.decode(MetadataWrite.self, from: line))
            } catch {
                logger.error("metadata store: an unreadable line in \(pending.path) is kept in \(setAside.path)", metadata: ["error": "\(error)"])
                do {
                    try setAside.append(Unreadable(at: now(), error: "\(error)", line: String(decoding: line, as: UTF8.self)))
                } catch {
                    logger.critical("metadata store: cannot keep it: \(error)")
                }
            }
        }
        logger.notice("metadata store: writing \(writes.count) writes kept at the last shutdown (\(pending.path))")
        batch = writes + batch
        replaying = true
        await flush()
    }
}

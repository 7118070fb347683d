import Foundation
import Logging
import MeridianCore

/// Backs up the coordinator's database into a directory (`--backup-dir`; a `PeriodicJob`, daily by default), and
/// deletes the backups past the backups policy, or past the deleted-accounts one after an account purge that
/// followed them (`Backup.deletion`), so that nothing outlives it.
public struct BackupJob: Sendable {
    let database: DatabaseLocation
    let box: SecretBox
    let directory: String
    let retention: Backup.Retention
    let now: @Sendable () -> Date
    let logger: Logger

    public init(
        database: DatabaseLocation, box: SecretBox, directory: String, retention: Backup.Retention,
        now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.database = database
        self.box = box
        self.directory = directory
        self.retention = retention
        self.now = now
        self.logger = logger
    }

    /// One backup, then the pruning of those past the policy.
    public func runOnce() async throws {
        let path = try await CoordinatorBackup.make(database, box: box, into: directory, retention: retention, at: now())
        let deleted = try Backup.prune(directory, retention: retention, at: now())
        logger.info(
            "backup: written",
            metadata: [
                "path": "\(path)", "pruned": "\(deleted.count)", "kept_for": "\(retention.backups)",
                "after_an_account_deletion": "\(retention.deletedAccounts)",
            ])
    }
}

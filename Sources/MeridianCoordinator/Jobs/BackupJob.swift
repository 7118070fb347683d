import Foundation
import Logging
import MeridianCore
import ServiceLifecycle

/// Backs up the coordinator's database into a directory on an interval (`--backup-dir`, daily by default), and
/// deletes the backups past the backups policy, or past the deleted-accounts one after an account purge that
/// followed them (`Backup.deletion`), so that nothing outlives it.
public struct BackupJob: Service {
    let database: DatabaseLocation
    let box: SecretBox
    let directory: String
    let retention: Backup.Retention
    let interval: Duration
    let now: @Sendable () -> Date
    let logger: Logger

    public init(
        database: DatabaseLocation, box: SecretBox, directory: String, retention: Backup.Retention, interval: Duration,
        now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.database = database
        self.box = box
        self.directory = directory
        self.retention = retention
        self.interval = interval
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        await Periodic.run(every: interval, logger: logger, failure: "backup: the run failed; will retry at the next interval") {
            try await runOnce()
        }
    }

    /// One backup, then the pruning of those past the policy.
    public func runOnce() async throws {
        let path = try await Backup.coordinator(database, box: box, into: directory, retention: retention, at: now())
        let deleted = try Backup.prune(directory, retention: retention, at: now())
        logger.info(
            "backup: written",
            metadata: [
                "path": "\(path)", "pruned": "\(deleted.count)", "kept_for": "\(retention.backups)",
                "after_an_account_deletion": "\(retention.deletedAccounts)",
            ])
    }
}

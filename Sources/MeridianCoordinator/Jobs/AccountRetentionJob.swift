import Foundation
import Logging
import ServiceLifecycle

/// Deletes closed accounts whose closed-account period has ended, on an interval, until shutdown.
public struct AccountRetentionJob: Service {
    let customers: any CustomerRepository
    let interval: Duration
    let now: @Sendable () -> Date
    let logger: Logger

    public init(customers: any CustomerRepository, interval: Duration, now: @escaping @Sendable () -> Date, logger: Logger) {
        self.customers = customers
        self.interval = interval
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        await Periodic.run(every: interval) {
            do {
                _ = try await runOnce()
            } catch {
                logger.error("account retention run failed; will retry", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One pass: purges what is due now and returns the purged account ids.
    public func runOnce() async throws -> [String] {
        let purged = try await customers.purgeClosed(dueBy: now(), by: .system("retention"))
        if !purged.isEmpty {
            logger.info("purged closed accounts", metadata: ["count": "\(purged.count)"])
        }
        return purged
    }
}

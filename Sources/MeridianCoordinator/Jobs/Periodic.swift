import Logging
import ServiceLifecycle

/// The loop every coordinator job runs: wait `interval`, do one pass, again until graceful shutdown. The first
/// pass comes one interval after start, when the schema has been migrated. A pass handles its own failures, so
/// that one bad pass never ends the job.
enum Periodic {
    static func run(every interval: Duration, _ pass: () async -> Void) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
            await pass()
        }
    }

    /// The same loop for a pass that may throw: a failed pass is logged with `failure`, and the next one comes on time.
    static func run(every interval: Duration, logger: Logger, failure: String, _ pass: () async throws -> Void) async {
        await run(every: interval) {
            do {
                try await pass()
            } catch {
                logger.error("\(failure)", metadata: ["error": "\(error)"])
            }
        }
    }
}

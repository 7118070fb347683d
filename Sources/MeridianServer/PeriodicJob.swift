import Logging
import ServiceLifecycle

/// Work done over and over on a schedule, as a `Service`: one pass, a wait, the next pass, until graceful
/// shutdown or cancellation. Every job of the coordinator (retention, directives, outbox, publications,
/// backups) and of a node (metadata retention, the bundle file watch, the pull from the coordinator) runs in one.
///
/// A pass that throws is logged with `failure` and the next one comes on time, so one bad pass never ends the
/// job. A pass may choose the wait before the next one (a pull retries sooner while the coordinator is away).
public struct PeriodicJob: Service {
    /// When the first pass runs.
    public enum Start: Sendable {
        /// At once: the job's state matters from the start (a pull, a file watch).
        case immediately
        /// One interval after start: the service it works on (a database being migrated) is ready by then.
        case afterInterval
    }

    public let name: String
    let interval: Duration
    let start: Start
    let logger: Logger
    let pass: @Sendable () async throws -> Duration?

    /// A job whose passes come every `interval`.
    public init(
        _ name: String, every interval: Duration, start: Start = .afterInterval, logger: Logger,
        pass: @escaping @Sendable () async throws -> Void
    ) {
        self.init(name, every: interval, start: start, logger: logger, waitingAfterEachPass: {
            try await pass()
            return nil
        })
    }

    /// A job each of whose passes returns the wait before the next one (nil: `interval`).
    public init(
        _ name: String, every interval: Duration, start: Start = .afterInterval, logger: Logger,
        waitingAfterEachPass pass: @escaping @Sendable () async throws -> Duration?
    ) {
        self.name = name
        self.interval = interval
        self.start = start
        self.logger = logger
        self.pass = pass
    }

    public func run() async throws {
        var wait = start == .immediately ? nil : interval
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let wait {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
            }
            do {
                wait = try await pass() ?? interval
            } catch is CancellationError {
                return
            } catch {
                logger.error("\(name): the pass failed; the next comes on schedule", metadata: ["error": "\(error)"])
                wait = interval
            }
        }
    }
}

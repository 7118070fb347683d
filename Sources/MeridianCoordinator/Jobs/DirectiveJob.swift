import Foundation
import Logging
import ServiceLifecycle

/// Runs the directive dispatcher on an interval, until shutdown: directives go out, receipts come in, tickets
/// complete, and a region that was down is tried again.
public struct DirectiveJob: Service {
    let dispatcher: DirectiveDispatcher
    let interval: Duration
    let logger: Logger

    public func run() async throws {
        await Periodic.run(every: interval, logger: logger, failure: "gdpr: a directive pass failed; will retry") {
            _ = try await dispatcher.runOnce()
        }
    }
}

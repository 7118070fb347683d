import Foundation
import Logging
import MeridianCore

/// Keeps the publications on time: freezes a half-year's transparency report once the period has been over for
/// `freezeAfterDays` (room for requests recorded late), and warns while the canary nears or passes its expiry.
/// It never issues a canary: renewing one is a person's deliberate statement.
public struct PublicationsJob: Sendable {
    let publications: Publications
    let freezeAfterDays: Int
    let now: @Sendable () -> Date
    let logger: Logger

    public init(publications: Publications, freezeAfterDays: Int = 30, now: @escaping @Sendable () -> Date, logger: Logger) {
        self.publications = publications
        self.freezeAfterDays = freezeAfterDays
        self.now = now
        self.logger = logger
    }

    /// One pass; returns the periods frozen now.
    public func runOnce() async throws -> [String] {
        let date = now()
        var frozen: [String] = []
        if publications.key != nil {
            for entry in try await publications.allReports() where entry.closed && entry.frozen == nil {
                guard let period = ReportingPeriod(entry.report.period), let last = Self.date(period.last),
                    date.timeIntervalSince(last) > Double(freezeAfterDays + 1) * 86_400
                else { continue }
                _ = try await publications.freeze(period, by: .system("transparency"))
                frozen.append(period.description)
                logger.info("publications: froze and signed the \(period) transparency report")
            }
        }
        if let canary = try await publications.canaries.latest() {
            let left = canary.statement.expiresAt.timeIntervalSince(date)
            if left <= 0 {
                logger.error("publications: the warrant canary expired at \(ISOTime.string(canary.statement.expiresAt)); the public pages show it expired")
            } else if left < 7 * 86_400 {
                logger.warning("publications: the warrant canary expires at \(ISOTime.string(canary.statement.expiresAt)); renew it with meridian canary issue")
            }
        }
        return frozen
    }

    static func date(_ day: CalendarDay) -> Date? {
        ISOTime.date("\(day)T00:00:00Z")
    }
}

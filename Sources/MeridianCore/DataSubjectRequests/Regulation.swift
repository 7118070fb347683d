import Foundation

/// The law a request is made under, which sets its deadline.
public enum Regulation: String, Sendable, CaseIterable, Codable {
    case gdpr, ccpa

    /// When an answer is due for a request received at `received`: one calendar month (GDPR Art. 12(3); a
    /// month from the 31st ends on the last day of a shorter month) or 45 days (CCPA, Cal. Civ. Code 1798.130).
    public func due(receivedAt received: Date) -> Date {
        switch self {
        case .gdpr: Self.utc.date(byAdding: .month, value: 1, to: received) ?? received.addingTimeInterval(30 * 86_400)
        case .ccpa: received.addingTimeInterval(45 * 86_400)
        }
    }

    /// The latest the deadline may be moved to, once, with a reason: two further months (GDPR) or 45 further days
    /// (CCPA) after the first deadline.
    public func latestExtension(of due: Date) -> Date {
        switch self {
        case .gdpr: Self.utc.date(byAdding: .month, value: 2, to: due) ?? due.addingTimeInterval(61 * 86_400)
        case .ccpa: due.addingTimeInterval(45 * 86_400)
        }
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

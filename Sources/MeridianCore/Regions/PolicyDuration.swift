import Foundation

/// A retention or queue period written in Regions/*.yaml as a number and a unit: `60d`, `12h`, `5d`, `7y`.
///
/// Units are `s`, `m` (minutes), `h`, `d`, `w` and `y` (365 days). Months are not accepted because their
/// length varies; write `365d` for "12 months".
public struct PolicyDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The length in whole seconds.
    public let seconds: Int64

    public init(seconds: Int64) {
        self.seconds = seconds
    }

    public static func days(_ days: Int64) -> PolicyDuration {
        PolicyDuration(seconds: days * 86_400)
    }

    /// Parses `60d`, `14d`, `12h`; returns nil for anything else (no unit, unknown unit, zero, negative, overflow).
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = trimmed.last, let count = Int64(trimmed.dropLast()), count > 0 else { return nil }
        let multiplier: Int64
        switch unit {
        case "s": multiplier = 1
        case "m": multiplier = 60
        case "h": multiplier = 3_600
        case "d": multiplier = 86_400
        case "w": multiplier = 7 * 86_400
        case "y": multiplier = 365 * 86_400
        default: return nil
        }
        let (value, overflow) = count.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        self.seconds = value
    }

    public var timeInterval: Double { Double(seconds) }

    /// The shortest exact spelling: `60d` rather than `5184000s`.
    public var description: String {
        for (unit, size) in [("y", Int64(365 * 86_400)), ("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60)]
        where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    public static func < (lhs: PolicyDuration, rhs: PolicyDuration) -> Bool { lhs.seconds < rhs.seconds }
    public static func + (lhs: PolicyDuration, rhs: PolicyDuration) -> PolicyDuration {
        PolicyDuration(seconds: lhs.seconds + rhs.seconds)
    }
}

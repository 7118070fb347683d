/// A half-year that a transparency report covers: `2026-H1` is 1 January to 30 June 2026, `2026-H2` 1 July to
/// 31 December.
public struct ReportingPeriod: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    /// 1 or 2.
    public let half: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts[0].count == 4, let year = Int(parts[0]), year >= 1970, parts[1] == "H1" || parts[1] == "H2" else {
            return nil
        }
        self.year = year
        self.half = parts[1] == "H1" ? 1 : 2
    }

    public init(containing day: CalendarDay) {
        year = day.year
        half = day.month <= 6 ? 1 : 2
    }

    // A period's year always comes from a four-digit one (a day's, or the text's), so these days exist; the
    // year is padded, so that a day such as 0999-07-01 makes 0999-H2 rather than a crash.
    public var first: CalendarDay { CalendarDay(year: year, month: half == 1 ? 1 : 7, day: 1)! }
    public var last: CalendarDay { CalendarDay(year: year, month: half == 1 ? 6 : 12, day: half == 1 ? 30 : 31)! }
    public var previous: ReportingPeriod { half == 2 ? .init(year: year, half: 1) : .init(year: year - 1, half: 2) }

    /// Over by `today`: its report may be frozen, and nothing received later can change it.
    public func isClosed(on today: CalendarDay) -> Bool { last < today }

    public var description: String { "\(String(repeating: "0", count: max(0, 4 - String(year).count)))\(year)-H\(half)" }
    public static func < (a: ReportingPeriod, b: ReportingPeriod) -> Bool { (a.year, a.half) < (b.year, b.half) }

    private init(year: Int, half: Int) {
        self.year = year
        self.half = half
    }
}

import Foundation

/// Milliseconds since the Unix epoch, the stored form of every time.
enum Timestamp {
    static func now() -> Int64 { millis(Date()) }
    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}

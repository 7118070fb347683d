import Foundation

/// Times as the records, the canary and the public pages write them: ISO 8601 in UTC to the second
/// (`2026-11-24T03:21:36Z`).
public enum ISOTime {
    public static func string(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
    }

    public static func date(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }
}

import Foundation

/// When a node erased an account's data (`DATA-DIR/accounts-erased.json`): the node writes a time at each
/// erasure directive for an account, and `meridian backup` puts the times in the header of the node's next
/// backup, so that backups made before one are deleted within `deleted_customer_backups` of it.
///
/// The file holds times only, no account, and keeps those of the backups period: older ones cannot shorten
/// any backup still kept.
public enum AccountErasures {
    public static let fileName = "accounts-erased.json"

    /// The times recorded in `dataDirectory`, oldest first; none when the file is missing or unreadable.
    public static func read(dataDirectory: String) -> [Date] {
        guard let data = FileManager.default.contents(atPath: path(dataDirectory)),
            let millis = try? JSONDecoder().decode([Int64].self, from: data)
        else { return [] }
        return millis.sorted().map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    /// Adds `date`, dropping times older than `keep` before it; the file is owner-only, written aside and renamed.
    public static func record(_ date: Date, dataDirectory: String, keep: PolicyDuration) throws {
        let oldest = date.addingTimeInterval(-Double(keep.seconds))
        let times = (read(dataDirectory: dataDirectory) + [date]).filter { $0 >= oldest }
        let millis = Set(times.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }).sorted()
        try PrivateFile.replace(try JSONEncoder().encode(millis), at: path(dataDirectory))
    }

    static func path(_ dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent(fileName)
    }
}

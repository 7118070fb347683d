import Foundation
import MeridianCore
import SQLiteNIO

/// How the metadata store's rows hold values: times as milliseconds since 1970, the metadata record as JSON
/// with RFC 3339 times.
enum MetadataCoding {
    static func millis(_ date: Date) -> Int { Int((date.timeIntervalSince1970 * 1000).rounded()) }
    static func millis(_ date: Date?) -> SQLiteData { date.map { .integer(millis($0)) } ?? .null }
    static func date(_ value: SQLiteData?) -> Date? {
        value?.integer.map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    static func encode(_ metadata: MessageMetadata) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> MessageMetadata {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(MessageMetadata.self, from: Data(text.utf8))
    }

    /// The columns ``record(from:)`` reads.
    static let recordColumns =
        "message_id, recipient, customer_id, webhook_id, mode, status, attempts, received_at, next_attempt_at, completed_at, final_reason, record"

    /// A delivery from its row. Its received time is the column's, to the millisecond (the JSON record's is to the
    /// second), so that the cursors of ``MessageQuery`` made from it match the ordering of the column.
    static func record(from row: SQLiteRow) throws -> DeliveryRecord {
        var record = DeliveryRecord(
            messageID: row.column("message_id")?.string ?? "", recipient: row.column("recipient")?.integer ?? 0,
            customerID: row.column("customer_id")?.string ?? "", webhookID: row.column("webhook_id")?.string ?? "",
            mode: row.column("mode")?.string.flatMap(DeliveryMode.init(rawValue:)) ?? .queued,
            status: row.column("status")?.string.flatMap(DeliveryStatus.init(rawValue:)) ?? .queued,
            attempts: row.column("attempts")?.integer ?? 0, nextAttemptAt: date(row.column("next_attempt_at")),
            completedAt: date(row.column("completed_at")), finalReason: row.column("final_reason")?.string,
            metadata: try decode(row.column("record")?.string ?? "{}"))
        if let received = date(row.column("received_at")) { record.metadata.receivedAt = received }
        return record
    }

    /// The columns ``attempt(from:)`` reads.
    static let attemptColumns = "at, duration_ms, status_code, outcome, detail, config_version"

    static func attempt(from row: SQLiteRow) -> DeliveryAttempt {
        DeliveryAttempt(
            at: date(row.column("at")) ?? .distantPast, durationMilliseconds: row.column("duration_ms")?.integer ?? 0,
            statusCode: row.column("status_code")?.integer, outcome: row.column("outcome")?.string ?? "",
            detail: row.column("detail")?.string ?? "", configVersion: row.column("config_version")?.integer)
    }
}

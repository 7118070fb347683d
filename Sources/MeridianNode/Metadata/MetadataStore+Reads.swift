import Foundation
import MeridianCore
import SQLiteNIO

/// What the control API and the queue read from the store: a customer's deliveries, one delivery with its
/// attempts, and the counts `/v1/status` and `/metrics` show.
extension MetadataStore {
    /// Deliveries matching the query, newest first.
    public func query(_ query: MessageQuery) async throws -> [DeliveryRecord] {
        try await exclusive {
            var conditions = ["customer_id = ?"]
            var binds: [SQLiteData] = [.text(query.customerID)]
            if let since = query.since {
                conditions.append("received_at >= ?")
                binds.append(.integer(MetadataCoding.millis(since)))
            }
            if let until = query.until {
                conditions.append("received_at < ?")
                binds.append(.integer(MetadataCoding.millis(until)))
            }
            if let messageID = query.messageID {
                conditions.append("(message_id = ? OR json_extract(record, '$.message_id') = ?)")
                binds.append(contentsOf: [.text(messageID), .text(messageID)])
            }
            if let sender = query.sender {
                conditions.append("lower(json_extract(record, '$.envelope_from')) = lower(?)")
                binds.append(.text(sender))
            }
            if let recipient = query.recipient {
                conditions.append("lower(json_extract(record, '$.envelope_to')) = lower(?)")
                binds.append(.text(recipient))
            }
            if let status = query.status {
                conditions.append("status = ?")
                binds.append(.text(status.rawValue))
            }
            if let subject = query.subject {
                // instr, not LIKE: the text is matched as typed, % and _ included.
                conditions.append("instr(lower(coalesce(json_extract(record, '$.subject'), '')), lower(?)) > 0")
                binds.append(.text(subject))
            }
            if let after = query.after {
                conditions.append("(received_at < ? OR (received_at = ? AND (message_id > ? OR (message_id = ? AND recipient > ?))))")
                binds.append(contentsOf: [
                    .integer(Int(after.receivedAtMillis)), .integer(Int(after.receivedAtMillis)), .text(after.messageID), .text(after.messageID),
                    .integer(after.recipient),
                ])
            }
            binds.append(.integer(query.limit))
            let rows = try await connection.query(
                """
                SELECT \(MetadataCoding.recordColumns)
                FROM deliveries WHERE \(conditions.joined(separator: " AND "))
                ORDER BY received_at DESC, message_id, recipient LIMIT ?
                """, binds)
            return try rows.map(MetadataCoding.record(from:))
        }
    }

    /// One delivery and its attempts, oldest attempt first.
    public func delivery(_ key: DeliveryKey) async throws -> (DeliveryRecord, [DeliveryAttempt])? {
        try await exclusive {
            let rows = try await connection.query(
                "SELECT \(MetadataCoding.recordColumns) FROM deliveries WHERE message_id = ? AND recipient = ?",
                [.text(key.messageID), .integer(key.recipient)])
            guard let row = rows.first else { return nil }
            let attempts = try await connection.query(
                "SELECT \(MetadataCoding.attemptColumns) FROM attempts WHERE message_id = ? AND recipient = ? ORDER BY number",
                [.text(key.messageID), .integer(key.recipient)])
            return (try MetadataCoding.record(from: row), attempts.map(MetadataCoding.attempt(from:)))
        }
    }

    /// How many deliveries are in each status.
    public func countsByStatus() async throws -> [DeliveryStatus: Int] {
        try await exclusive {
            var counts: [DeliveryStatus: Int] = [:]
            for row in try await connection.query("SELECT status, count(*) AS n FROM deliveries GROUP BY status") {
                if let status = row.column("status")?.string.flatMap(DeliveryStatus.init(rawValue:)) {
                    counts[status] = row.column("n")?.integer ?? 0
                }
            }
            return counts
        }
    }

    /// When the oldest delivery still queued arrived; nil with none queued.
    public func oldestQueued() async throws -> Date? {
        try await exclusive {
            MetadataCoding.date(try await connection.query("SELECT min(received_at) AS oldest FROM deliveries WHERE status = 'queued'").first?.column("oldest"))
        }
    }
}

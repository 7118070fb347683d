import Foundation
import MeridianCore
import SQLiteNIO

/// One change to the metadata store, as the writer batches it and as the side files keep it.
enum MetadataWrite: Sendable, Codable {
    case record(DeliveryRecord)
    case attempt(DeliveryKey, number: Int, DeliveryAttempt)
    case status(DeliveryKey, DeliveryStatus, attempts: Int, nextAttemptAt: Date?, completedAt: Date?, reason: String?, serverResponse: String?)

    var key: DeliveryKey {
        switch self {
        case .record(let record): record.key
        case .attempt(let key, _, _), .status(let key, _, _, _, _, _, _): key
        }
    }

    /// Runs the write's statement.
    func apply(on connection: SQLiteConnection) async throws {
        switch self {
        case .record(let record):
            _ = try await connection.query(
                """
                INSERT OR IGNORE INTO deliveries
                    (message_id, recipient, customer_id, webhook_id, mode, status, attempts, received_at, next_attempt_at,
                     completed_at, final_reason, record)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    .text(record.messageID), .integer(record.recipient), .text(record.customerID), .text(record.webhookID),
                    .text(record.mode.rawValue), .text(record.status.rawValue), .integer(record.attempts),
                    .integer(MetadataCoding.millis(record.metadata.receivedAt)), MetadataCoding.millis(record.nextAttemptAt),
                    MetadataCoding.millis(record.completedAt), record.finalReason.map(SQLiteData.text) ?? .null,
                    .text(try MetadataCoding.encode(record.metadata)),
                ])
        case .attempt(let key, let number, let attempt):
            // Only for a delivery still on record: an attempt that ends after its delivery was erased leaves nothing.
            _ = try await connection.query(
                """
                INSERT OR REPLACE INTO attempts (message_id, recipient, number, at, duration_ms, status_code, outcome, detail, config_version)
                SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS (SELECT 1 FROM deliveries WHERE message_id = ?1 AND recipient = ?2)
                """,
                [
                    .text(key.messageID), .integer(key.recipient), .integer(number), .integer(MetadataCoding.millis(attempt.at)),
                    .integer(attempt.durationMilliseconds), attempt.statusCode.map(SQLiteData.integer) ?? .null,
                    .text(attempt.outcome), .text(String(attempt.detail.prefix(1000))), attempt.configVersion.map(SQLiteData.integer) ?? .null,
                ])
        case .status(let key, let status, let attempts, let next, let completed, let reason, let response):
            // The server response goes into the record unless the customer redacted it: a redacted field is
            // never written (MessageMetadata.recordServerResponse states the same rule for records built in Swift).
            _ = try await connection.query(
                """
                UPDATE deliveries SET status = ?1, attempts = ?2, next_attempt_at = ?3, completed_at = ?4,
                    final_reason = COALESCE(?5, final_reason),
                    record = CASE
                        WHEN ?6 IS NULL THEN record
                        WHEN EXISTS (SELECT 1 FROM json_each(record, '$.redacted') WHERE value = 'server_response') THEN record
                        ELSE json_set(record, '$.server_response', ?6) END
                WHERE message_id = ?7 AND recipient = ?8
                """,
                [
                    .text(status.rawValue), .integer(attempts), MetadataCoding.millis(next), MetadataCoding.millis(completed),
                    reason.map(SQLiteData.text) ?? .null, response.map { .text(String($0.prefix(1000))) } ?? .null,
                    .text(key.messageID), .integer(key.recipient),
                ])
        }
    }
}

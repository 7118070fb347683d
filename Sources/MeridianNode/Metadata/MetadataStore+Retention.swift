import Foundation
import MeridianCore
import SQLiteNIO

/// The region's retention policy applied to the store: metadata, the delivery log, IP masking, the erasure
/// receipt journal and the set-aside writes.
extension MetadataStore {
    /// What one retention run changed.
    public struct RetentionResult: Sendable, Equatable {
        public var deletedRecords = 0
        public var deletedAttempts = 0
        public var maskedAddresses = 0
        /// Lines of `metadata-rejected.jsonl` past the metadata period.
        public var deletedSetAside = 0
    }

    /// Applies the region's policy: deletes finished metadata older than `message_metadata`, attempts older
    /// than `delivery_logs`, and masks sender IPs older than `ip_masking.after`.
    public func applyRetention(_ retention: RetentionPolicy, masking: IPMaskingPolicy, now: Date) async throws -> RetentionResult {
        try await exclusive {
            var result = RetentionResult()
            let metadataCutoff = MetadataCoding.millis(now.addingTimeInterval(-Double(retention.messageMetadata.seconds)))
            let logCutoff = MetadataCoding.millis(now.addingTimeInterval(-Double(retention.deliveryLogs.seconds)))
            let maskCutoff = MetadataCoding.millis(now.addingTimeInterval(-Double(masking.after.seconds)))
            try await inTransaction {
                // A deleted record takes its attempts with it.
                _ = try await connection.query(
                    """
                    DELETE FROM attempts WHERE (message_id, recipient) IN
                        (SELECT message_id, recipient FROM deliveries WHERE received_at < ? AND status <> 'queued')
                    """, [.integer(metadataCutoff)])
                result.deletedRecords = try await connection.query(
                    "DELETE FROM deliveries WHERE received_at < ? AND status <> 'queued' RETURNING message_id", [.integer(metadataCutoff)]
                ).count
                result.deletedAttempts = try await connection.query(
                    "DELETE FROM attempts WHERE at < ? RETURNING message_id", [.integer(logCutoff)]
                ).count
                let unmasked = try await connection.query(
                    "SELECT message_id, recipient, record FROM deliveries WHERE received_at < ? AND ip_masked = 0", [.integer(maskCutoff)])
                for row in unmasked {
                    guard let text = row.column("record")?.string, let metadata = try? MetadataCoding.decode(text) else { continue }
                    _ = try await connection.query(
                        "UPDATE deliveries SET record = ?, ip_masked = 1 WHERE message_id = ? AND recipient = ?",
                        [
                            .text(try MetadataCoding.encode(metadata.maskingSenderIP(masking))), row.column("message_id") ?? .null,
                            row.column("recipient") ?? .null,
                        ])
                    if metadata.senderIP != nil { result.maskedAddresses += 1 }
                }
                _ = try await connection.query(
                    "DELETE FROM erasure_receipts WHERE at < ?",
                    [.integer(MetadataCoding.millis(now.addingTimeInterval(-Self.erasureReceiptPeriod)))])
            }
            // Set-aside writes are kept no longer than the records they belong to.
            let oldest = now.addingTimeInterval(-Double(retention.messageMetadata.seconds))
            result.deletedSetAside = pruneSetAside { _, at in (at ?? .distantPast) < oldest }
            return result
        }
    }

    /// Rewrites `metadata-rejected.jsonl` without the lines `drop` picks; returns how many went.
    func pruneSetAside(_ drop: (_ line: String, _ at: Date?) -> Bool) -> Int {
        do {
            return try setAside.prune(drop)
        } catch {
            logger.error("metadata store: cannot rewrite \(setAside.path): \(error)")
            return 0
        }
    }
}

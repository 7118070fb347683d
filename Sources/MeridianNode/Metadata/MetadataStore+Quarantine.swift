import Foundation
import MeridianCore
import SQLiteNIO

/// The quarantine's records: deliveries held (`quarantined`) by customer, message or age.
extension MetadataStore {
    /// Held deliveries, newest first: of one customer (and one message, when given), or of everyone held since
    /// before `before`.
    public func quarantined(customer: String? = nil, messageID: String? = nil, before: Date? = nil, limit: Int = 1000) async throws -> [DeliveryRecord] {
        try await exclusive {
            var conditions = ["status = 'quarantined'"]
            var binds: [SQLiteData] = []
            if let customer {
                conditions.append("customer_id = ?")
                binds.append(.text(customer))
            }
            if let messageID {
                conditions.append("message_id = ?")
                binds.append(.text(messageID))
            }
            if let before {
                conditions.append("received_at < ?")
                binds.append(.integer(MetadataCoding.millis(before)))
            }
            binds.append(.integer(limit))
            let rows = try await connection.query(
                """
                SELECT \(MetadataCoding.recordColumns) FROM deliveries WHERE \(conditions.joined(separator: " AND "))
                ORDER BY received_at DESC, message_id, recipient LIMIT ?
                """, binds)
            return try rows.map(MetadataCoding.record(from:))
        }
    }
}

import Foundation
import MeridianCore
import SQLiteNIO

/// A data subject's records in the metadata store, for GDPR and CCPA directives: the deliveries that name the
/// subject's address as envelope sender or recipient (or belong to the customer, for an account), and their
/// attempts (the delivery log).
extension MetadataStore {
    /// What the store holds of the subject.
    public struct SubjectRecords: Sendable {
        public var deliveries: [DeliveryRecord] = []
        public var attempts: [SubjectAttempt] = []
        /// Writes naming the subject that the database refused and the store set aside in `metadata-rejected.jsonl`
        /// (see `MetadataStore+Writing`), each as its line: the time, the error and the write.
        public var setAside: [JSONValue] = []
    }

    /// One attempt with the delivery it belongs to.
    public struct SubjectAttempt: Sendable, Encodable {
        public var messageID: String
        public var recipient: Int
        public var attempt: DeliveryAttempt

        enum CodingKeys: String, CodingKey { case messageID = "message_id", recipient, attempt }
    }

    /// What an erasure removed and kept.
    public struct SubjectErasure: Sendable, Equatable {
        public var erasedDeliveries = 0
        public var erasedAttempts = 0
        public var heldDeliveries = 0
        public var heldAttempts = 0
        /// The customers whose held records were kept.
        public var heldCustomers: Set<String> = []
        /// Writes of the subject set aside in `metadata-rejected.jsonl` (see `MetadataStore+Writing`), now gone.
        public var erasedSetAside = 0
    }

    /// Every delivery and attempt of the subject, oldest first.
    public func records(of subject: SubjectIdentity) async throws -> SubjectRecords {
        try await exclusive {
            let (condition, binds) = Self.matching(subject)
            let rows = try await connection.query(
                """
                SELECT \(MetadataCoding.recordColumns)
                FROM deliveries WHERE \(condition) ORDER BY received_at, message_id, recipient
                """, binds)
            var records = SubjectRecords(deliveries: try rows.map(MetadataCoding.record(from:)))
            let attempts = try await connection.query(
                """
                SELECT a.message_id, a.recipient, a.at, a.duration_ms, a.status_code, a.outcome, a.detail, a.config_version
                FROM attempts a JOIN deliveries d ON d.message_id = a.message_id AND d.recipient = a.recipient
                WHERE \(condition.replacingOccurrences(of: "record", with: "d.record").replacingOccurrences(of: "customer_id", with: "d.customer_id"))
                ORDER BY a.at, a.message_id, a.recipient, a.number
                """, binds)
            records.attempts = attempts.map { row in
                SubjectAttempt(
                    messageID: row.column("message_id")?.string ?? "", recipient: row.column("recipient")?.integer ?? 0,
                    attempt: MetadataCoding.attempt(from: row))
            }
            records.setAside = setAside.lines().filter { String(decoding: $0, as: UTF8.self).lowercased().contains(Self.mention(subject)) }
                .compactMap { try? JSONDecoder().decode(JSONValue.self, from: $0) }
            return records
        }
    }

    /// Deletes the subject's deliveries and their attempts in one transaction, except those of `held` customers.
    public func erase(_ subject: SubjectIdentity, holding held: Set<String>) async throws -> SubjectErasure {
        try await exclusive {
            let (condition, binds) = Self.matching(subject)
            var result = SubjectErasure()
            try await inTransaction {
                let rows = try await connection.query("SELECT message_id, recipient, customer_id FROM deliveries WHERE \(condition)", binds)
                for row in rows {
                    let key: [SQLiteData] = [row.column("message_id") ?? .null, row.column("recipient") ?? .null]
                    let customer = row.column("customer_id")?.string ?? ""
                    if held.contains(customer) {
                        let count = try await connection.query(
                            "SELECT count(*) AS n FROM attempts WHERE message_id = ? AND recipient = ?", key
                        ).first?.column("n")?.integer ?? 0
                        result.heldDeliveries += 1
                        result.heldAttempts += count
                        result.heldCustomers.insert(customer)
                    } else {
                        result.erasedAttempts += try await connection.query(
                            "DELETE FROM attempts WHERE message_id = ? AND recipient = ? RETURNING number", key
                        ).count
                        _ = try await connection.query("DELETE FROM deliveries WHERE message_id = ? AND recipient = ?", key)
                        result.erasedDeliveries += 1
                    }
                }
            }
            result.erasedSetAside = pruneSetAside { line, _ in
                let heldLine = held.contains { line.contains("\"customer_id\":\"\($0.lowercased())\"") }
                return !heldLine && line.contains(Self.mention(subject))
            }
            return result
        }
    }

    /// How a subject appears in a set-aside write's JSON (lowercased): its address as a string, or its customer id.
    static func mention(_ subject: SubjectIdentity) -> String {
        switch subject {
        case .email(let address): "\"\(address.lowercased().replacingOccurrences(of: "/", with: "\\/"))\""
        case .customer(let id): "\"customer_id\":\"\(id.lowercased())\""
        }
    }

    /// The rows of a subject: by envelope address (either direction, case-insensitively), or by customer.
    static func matching(_ subject: SubjectIdentity) -> (String, [SQLiteData]) {
        switch subject {
        case .email(let address):
            ("(lower(json_extract(record, '$.envelope_from')) = ?1 OR lower(json_extract(record, '$.envelope_to')) = ?1)", [.text(address.lowercased())])
        case .customer(let id):
            ("customer_id = ?1", [.text(id)])
        }
    }
}

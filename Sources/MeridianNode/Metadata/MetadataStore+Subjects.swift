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
        /// (see `MetadataStore`), each as its line: the time, the error and the write.
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
        /// Writes of the subject set aside in `metadata-rejected.jsonl` (see `MetadataStore`), now gone.
        public var erasedSetAside = 0
    }

    /// Every delivery and attempt of the subject, oldest first.
    public func records(of subject: SubjectIdentity) async throws -> SubjectRecords {
        try await exclusive {
            let (condition, binds) = Self.matching(subject)
            let rows = try await connection.query(
                """
                SELECT message_id, recipient, customer_id, webhook_id, mode, status, attempts, next_attempt_at, completed_at, final_reason, record
                FROM deliveries WHERE \(condition) ORDER BY received_at, message_id, recipient
                """, binds)
            var records = SubjectRecords(deliveries: try rows.map(Self.record(from:)))
            let attempts = try await connection.query(
                """
                SELECT a.message_id, a.recipient, a.at, a.duration_ms, a.status_code, a.outcome, a.detail
                FROM attempts a JOIN deliveries d ON d.message_id = a.message_id AND d.recipient = a.recipient
                WHERE \(condition.replacingOccurrences(of: "record", with: "d.record").replacingOccurrences(of: "customer_id", with: "d.customer_id"))
                ORDER BY a.at, a.message_id, a.recipient, a.number
                """, binds)
            records.attempts = attempts.map { row in
                SubjectAttempt(
                    messageID: row.column("message_id")?.string ?? "", recipient: row.column("recipient")?.integer ?? 0,
                    attempt: DeliveryAttempt(
                        at: Self.date(row.column("at")) ?? .distantPast, durationMilliseconds: row.column("duration_ms")?.integer ?? 0,
                        statusCode: row.column("status_code")?.integer, outcome: row.column("outcome")?.string ?? "",
                        detail: row.column("detail")?.string ?? ""))
            }
            records.setAside = setAsideLines { $0.contains(Self.mention(subject)) }.compactMap {
                try? JSONDecoder().decode(JSONValue.self, from: $0)
            }
            return records
        }
    }

    /// Deletes the subject's deliveries and their attempts in one transaction, except those of `held` customers.
    public func erase(_ subject: SubjectIdentity, holding held: Set<String>) async throws -> SubjectErasure {
        try await exclusive {
            let (condition, binds) = Self.matching(subject)
            var result = SubjectErasure()
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
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
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
            result.erasedSetAside = pruneSetAside { line, _ in
                let heldLine = held.contains { line.contains("\"customer_id\":\"\($0.lowercased())\"") }
                return !heldLine && line.contains(Self.mention(subject))
            }
            return result
        }
    }

    // MARK: - Erasure receipts

    /// How long an erasure receipt is kept: past GDPR's one month and its two months' extension, so that a
    /// ticket's directive sent again for as long as the ticket can be open finds it.
    static let erasureReceiptPeriod: TimeInterval = 120 * 86_400

    /// The receipt this node gave for an erasure request, if it carried one out.
    ///
    /// A directive is sent again when its receipt did not reach the coordinator (a timeout after the work). The
    /// second pass finds nothing left to erase; with the first receipt kept here, the answer still counts what
    /// the first pass erased.
    public func erasureReceipt(of requestID: String) async throws -> DirectiveReceipt? {
        try await exclusive {
            guard let text = try await connection.query("SELECT receipt FROM erasure_receipts WHERE request_id = ?", [.text(requestID)])
                .first?.column("receipt")?.string
            else { return nil }
            return try Self.fileDecoder.decode(DirectiveReceipt.self, from: Data(text.utf8))
        }
    }

    /// Keeps (or replaces) the receipt of an erasure request.
    public func keepErasureReceipt(_ receipt: DirectiveReceipt) async throws {
        try await exclusive {
            _ = try await connection.query(
                "INSERT INTO erasure_receipts (request_id, at, receipt) VALUES (?, ?, ?) ON CONFLICT (request_id) DO UPDATE SET at = excluded.at, receipt = excluded.receipt",
                [.text(receipt.requestID), .integer(Self.millis(receipt.completedAt)),
                 .text(String(decoding: try Self.fileEncoder.encode(receipt), as: UTF8.self))])
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

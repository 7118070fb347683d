/// One delivery with its attempts, as a node answers `GET /v1/messages/{id}/{recipient}`.
public struct DeliveryDetail: Sendable, Codable {
    public var delivery: DeliveryRecord
    /// Oldest first: when, how long, the endpoint's status and answer, the config version.
    public var attempts: [DeliveryAttempt]

    public init(delivery: DeliveryRecord, attempts: [DeliveryAttempt]) {
        self.delivery = delivery
        self.attempts = attempts
    }
}

/// What a node did when asked to deliver one of a customer's messages now
/// (`POST /v1/messages/{id}/{recipient}/redeliver?customer_id=`).
public struct RedeliveryAnswer: Sendable, Codable {
    public enum Outcome: String, Sendable, Codable {
        /// It was waiting for a retry; it is due now.
        case scheduled
        /// It was due already, or an attempt is under way.
        case due
        /// Nothing of it is left to deliver here: delivered or given up, and gone from the spool.
        case notInSpool = "not_in_spool"
    }

    public var outcome: Outcome
    /// The delivery's status when it was asked.
    public var status: DeliveryStatus

    public init(outcome: Outcome, status: DeliveryStatus) {
        self.outcome = outcome
        self.status = status
    }
}

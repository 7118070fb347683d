import Foundation

/// The final or current state of one recipient's delivery.
public enum DeliveryStatus: String, Sendable, Codable, CaseIterable {
    /// Spooled, waiting for its next attempt.
    case queued
    /// The webhook answered 2xx.
    case delivered
    /// Given up: a permanent error, or the queue lifetime ran out (a DSN went to the sender).
    case failed
    /// Sync mode: the webhook refused it and the SMTP client got 550.
    case rejected
    /// Sync mode: the webhook was unreachable or answered 5xx, and the SMTP client got 451.
    case deferred
}

/// One recipient of a message: the unit of delivery, retry and completion.
public struct DeliveryKey: Sendable, Hashable, Codable, CustomStringConvertible {
    public var messageID: String
    public var recipient: Int

    public init(messageID: String, recipient: Int) {
        self.messageID = messageID
        self.recipient = recipient
    }

    public var description: String { "\(messageID)/\(recipient)" }
}

/// One recipient's delivery as a region's metadata store keeps it, and as a node answers it to the coordinator.
public struct DeliveryRecord: Sendable, Codable, Hashable {
    public var messageID: String
    public var recipient: Int
    public var customerID: String
    public var webhookID: String
    public var mode: DeliveryMode
    public var status: DeliveryStatus
    public var attempts: Int
    public var nextAttemptAt: Date?
    public var completedAt: Date?
    public var finalReason: String?
    /// The record of the message; its `config_version` is the version the message was accepted under. Each
    /// attempt names the version it was made under (``DeliveryAttempt/configVersion``).
    public var metadata: MessageMetadata

    public init(
        messageID: String, recipient: Int, customerID: String, webhookID: String, mode: DeliveryMode, status: DeliveryStatus, attempts: Int,
        nextAttemptAt: Date?, completedAt: Date?, finalReason: String?, metadata: MessageMetadata
    ) {
        self.messageID = messageID
        self.recipient = recipient
        self.customerID = customerID
        self.webhookID = webhookID
        self.mode = mode
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.completedAt = completedAt
        self.finalReason = finalReason
        self.metadata = metadata
    }

    public var key: DeliveryKey { DeliveryKey(messageID: messageID, recipient: recipient) }

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", recipient, customerID = "customer_id", webhookID = "webhook_id", mode, status, attempts
        case nextAttemptAt = "next_attempt_at", completedAt = "completed_at", finalReason = "final_reason", metadata
    }
}

/// One HTTP attempt, the delivery log (kept for the region's `delivery_logs` period).
public struct DeliveryAttempt: Sendable, Codable, Hashable {
    public var at: Date
    public var durationMilliseconds: Int
    /// The HTTP status, or nil when no response came (timeout, refused connection).
    public var statusCode: Int?
    public var outcome: String
    public var detail: String
    /// The config version the attempt was made under: its webhook, redactions and steps. A message accepted
    /// under one version and delivered after a change is delivered under the newer one, and says so here.
    /// Nil for attempts recorded before the node kept it.
    public var configVersion: Int?

    public init(at: Date, durationMilliseconds: Int, statusCode: Int?, outcome: String, detail: String, configVersion: Int? = nil) {
        self.at = at
        self.durationMilliseconds = durationMilliseconds
        self.statusCode = statusCode
        self.outcome = outcome
        self.detail = detail
        self.configVersion = configVersion
    }

    enum CodingKeys: String, CodingKey {
        case at, outcome, detail
        case durationMilliseconds = "duration_ms", statusCode = "status_code", configVersion = "config_version"
    }
}

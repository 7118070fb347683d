import Foundation

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

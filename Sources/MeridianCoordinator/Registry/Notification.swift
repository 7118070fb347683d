import Foundation
import MeridianCore

/// A message to a customer waiting in the outbox: an e-mail through the smarthost or a signed webhook event.
public struct Notification: Sendable, Hashable {
    public enum Channel: String, Sendable {
        case email, webhook
        /// A ``DeliveryEvent`` for the customer's events URL.
        case events
    }
    public enum Status: String, Sendable { case pending, sent, failed }

    public var id: String
    public var customerID: String
    public var channel: Channel
    /// For example `subprocessor.announced`; the webhook event's `type`.
    public var eventType: String
    /// An address that is not the customer's contact address (a data subject's), for e-mail.
    public var recipient: String?
    public var subject: String
    /// The e-mail's text, or the webhook event's JSON; sealed under the master key when ``bodySealed``.
    public var body: String
    /// A body holding a secret (a verification code) is stored sealed and opened only to send it.
    public var bodySealed: Bool
    public var status: Status
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var createdAt: Date
    public var sentAt: Date?

    public init(
        id: String, customerID: String, channel: Channel, eventType: String, recipient: String? = nil, subject: String, body: String,
        bodySealed: Bool = false, createdAt: Date
    ) {
        self.id = id
        self.customerID = customerID
        self.channel = channel
        self.eventType = eventType
        self.recipient = recipient
        self.subject = subject
        self.body = body
        self.bodySealed = bodySealed
        self.status = .pending
        self.attempts = 0
        self.nextAttemptAt = createdAt
        self.lastError = nil
        self.createdAt = createdAt
        self.sentAt = nil
    }
}

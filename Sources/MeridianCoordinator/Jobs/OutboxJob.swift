import AsyncHTTPClient
import Foundation
import Logging
import MeridianCore
import MeridianServer
import MeridianSmarthost
import NIOCore

/// Sends the outbox (``NotificationOutbox``): e-mails to customers' contact addresses through the smarthost and
/// events to their webhooks, signed per Standard Webhooks with the customer's secret. Failures are retried with
/// backoff; each attempt's error is kept on the notification, which `GET /v1/notifications` shows.
public struct OutboxJob: Sendable {
    let outbox: NotificationOutbox
    let customers: any CustomerRepository
    let secrets: SecretBox
    let smarthost: Smarthost?
    let egress: EgressClient
    /// The envelope and `From:` sender of notices: the controller's address from Regions/service.yaml.
    let sender: String
    let hostname: String
    /// The run of this replica that claims notifications (``Leadership/incarnation``).
    let replica: String
    /// How long a webhook event may take, connection retries included.
    let webhookTimeout: TimeAmount
    let now: @Sendable () -> Date
    let logger: Logger

    public init(
        outbox: NotificationOutbox, customers: any CustomerRepository, secrets: SecretBox, smarthost: Smarthost?, egress: EgressClient, sender: String,
        hostname: String, replica: String = "coordinator", webhookTimeout: TimeAmount = .seconds(15), now: @escaping @Sendable () -> Date,
        logger: Logger
    ) {
        self.replica = replica
        self.webhookTimeout = webhookTimeout
        self.outbox = outbox
        self.customers = customers
        self.secrets = secrets
        self.smarthost = smarthost
        self.egress = egress
        self.sender = sender
        self.hostname = hostname
        self.now = now
        self.logger = logger
    }

    /// Sends the notifications that are due, each claimed first so that no other replica sends it too, up to
    /// `limit` in one pass; returns how many were sent.
    @discardableResult
    public func runOnce(limit: Int = 100) async throws -> Int {
        var sent = 0
        for _ in 0..<limit {
            guard let notification = try await outbox.claimNext(at: now(), by: replica) else { break }
            do {
                try await send(notification)
                try await outbox.markSent(notification.id, at: now())
                sent += 1
            } catch {
                logger.warning(
                    "outbox: a notification failed; will retry",
                    metadata: ["notification": "\(notification.id)", "channel": "\(notification.channel.rawValue)", "error": "\(error)"])
                try await outbox.markFailed(notification, error: "\(error)", at: now())
            }
        }
        return sent
    }

    func send(_ notification: Notification) async throws {
        var notification = notification
        if notification.bodySealed { notification.body = try secrets.open(notification.body) }
        switch notification.channel {
        case .email:
            guard let smarthost else { throw CoordinatorError(.notificationUndelivered, "no smarthost is configured (meridian coordinator --smarthost HOST:PORT)") }
            let to: String
            if let recipient = notification.recipient {
                to = recipient
            } else {
                guard let customer = try await customers.find(notification.customerID) else {
                    throw CoordinatorError(.notificationUndelivered, "customer \(notification.customerID) no longer exists")
                }
                to = customer.contactEmail
            }
            let message = try Self.email(notification, from: sender, to: to, at: now(), hostname: hostname)
            try await SmarthostClient.send(Array(message.utf8), from: sender, to: to, via: smarthost, helo: hostname)
        case .webhook, .events:
            guard let customer = try await customers.find(notification.customerID) else {
                throw CoordinatorError(.notificationUndelivered, "customer \(notification.customerID) no longer exists")
            }
            let target = notification.channel == .events ? customer.eventsURL : customer.webhookURL
            guard let url = target else { throw CoordinatorError(.notificationUndelivered, "the account has no events URL any more") }
            let secret = try secrets.open(customer.webhookSecretSealed)
            let previous = try customer.previousWebhookSecretSealed.map(secrets.open)
            let signature = try WebhookSignature(secret: secret, previous: previous)
            let request = WebhookRequest.make(
                url: url, body: Array(notification.body.utf8), contentType: "application/json",
                id: notification.channel == .events ? notification.id : "evt_" + notification.id,
                timestamp: Int(now().timeIntervalSince1970), signature: signature,
                // The webhook's credentials are for the webhook's host only.
                credentials: notification.channel == .webhook ? try customer.webhookCredentialsSealed.map(secrets.open) : nil)
            let response = try await egress.execute(request, timeout: webhookTimeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            guard (200..<300).contains(response.status.code) else {
                throw CoordinatorError(.notificationUndelivered, "the webhook answered \(response.status.code)")
            }
        }
    }

    /// A plain-text RFC 5322 message.
    static func email(_ notification: Notification, from: String, to: String, at date: Date, hostname: String) throws -> String {
        let body = notification.body.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
        return [
            try header("From", from), try header("To", to), try header("Subject", notification.subject),
            "Date: \(DeliveryStatusNotification.rfc5322(date))",
            "Message-ID: <\(notification.id)@\(hostname)>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit", "Auto-Submitted: auto-generated", "", body,
        ].joined(separator: "\r\n") + "\r\n"
    }

    /// A header line whose value cannot end the header and start another: CR, LF and the other control
    /// characters are refused (a name such as `Acme\r\nBcc: spy@evil.example` would add a recipient). A second
    /// line of defence behind the API's own checks of what it stores.
    static func header(_ name: String, _ value: String) throws -> String {
        guard !value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) else {
            throw CoordinatorError(.notificationUndelivered, "the \(name) header would hold a line break or a control character; not sent")
        }
        return "\(name): \(value)"
    }
}

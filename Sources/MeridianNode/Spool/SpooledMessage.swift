import Foundation
import MeridianCore

/// A queued message as it sits in the spool: the envelope and, per recipient, the customer it is for and the
/// stable `webhook-id` every delivery attempt of that recipient carries, so receivers can de-duplicate.
public struct SpooledMessage: Sendable, Hashable, Codable {
    public var id: String
    public var receivedAt: Date
    public var remoteIP: String
    public var helo: String
    public var tls: SMTPTLSInfo?
    /// The reverse path; empty for the null sender `<>`, which never gets a DSN.
    public var from: String
    public var recipients: [Recipient]
    public var configVersion: Int
    /// The sender's SPF, DKIM and DMARC results, found once when the message arrived.
    public var authentication: SenderAuthentication?
    /// The spam and virus verdicts, found once inside the SMTP transaction.
    public var scan: ContentScan?

    public struct Recipient: Sendable, Hashable, Codable {
        public var address: String
        public var customer: String
        public var webhookID: String

        enum CodingKeys: String, CodingKey {
            case address, customer
            case webhookID = "webhook_id"
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, from, recipients, helo, tls, authentication, scan
        case receivedAt = "received_at", remoteIP = "remote_ip", configVersion = "config_version"
    }

    /// The envelope of one recipient's delivery, as the webhook payload and the metadata record see it.
    func envelope(for recipient: Recipient, size: Int) -> MessageEnvelope {
        var envelope = MessageEnvelope(
            to: recipient.address, recipients: recipients.map(\.address), from: from, heloDomain: helo, remoteIP: remoteIP,
            tls: tls, size: size)
        envelope.authentication = authentication
        envelope.scan = scan
        return envelope
    }

    /// Which of `candidates` (recipient indexes) concern a data subject: for an address, all of them when it
    /// sent the message or is one of its recipients; for a customer, the customer's.
    func recipients(concerning subject: SubjectIdentity, among candidates: Set<Int>) -> Set<Int> {
        switch subject {
        case .email(let address):
            let involved = from.lowercased() == address || recipients.contains { $0.address.lowercased() == address }
            return involved ? candidates : []
        case .customer(let customer):
            return candidates.filter { recipients[$0].customer == customer }
        }
    }
}

import Foundation

/// What a region stores about one message for one recipient (DESIGN.md, "message metadata", 60 days by
/// default). A field the customer redacted is never assigned: the record is built without it, it is not
/// blanked later, and ``redacted`` says which fields were left out on purpose.
public struct MessageMetadata: Sendable, Hashable, Codable {
    public var receivedAt: Date
    public var senderIP: String?
    public var helo: String?
    public var messageID: String?
    public var envelopeFrom: String?
    public var envelopeTo: String?
    public var subject: String?
    /// The `Date:` header as the sender wrote it.
    public var date: String?
    public var size: Int
    public var tlsVersion: String?
    public var tlsCipher: String?
    /// The config bundle version in force when the message arrived: which rules applied to it.
    public var configVersion: Int?
    /// The webhook's answer, set by the node after delivery.
    public private(set) var serverResponse: String?
    /// Whether ``senderIP`` has been masked by the retention job.
    public private(set) var senderIPMasked: Bool = false
    public var flags: [MIMEFlag]
    /// SPF, DKIM and DMARC as the node found them, when it checked.
    public var authentication: SenderAuthentication?
    /// The spam and virus verdicts, when the node ran the scans.
    public var scan: ContentScan?
    public let redacted: [MetadataField]

    enum CodingKeys: String, CodingKey {
        case receivedAt = "received_at", senderIP = "sender_ip", helo, messageID = "message_id"
        case envelopeFrom = "envelope_from", envelopeTo = "envelope_to", subject, date, size
        case tlsVersion = "tls_version", tlsCipher = "tls_cipher", configVersion = "config_version"
        case serverResponse = "server_response", senderIPMasked = "sender_ip_masked", flags, redacted, authentication, scan
    }

    /// Builds the record of one delivery, leaving out every field in `redactions`.
    public init(
        envelope: MessageEnvelope, message: MIMEMessage, receivedAt: Date, configVersion: Int?, redactions: Set<MetadataField>
    ) {
        self.receivedAt = receivedAt
        self.size = envelope.size
        self.configVersion = configVersion
        self.flags = message.flags.sorted()
        self.redacted = redactions.sorted { $0.rawValue < $1.rawValue }
        let keep = { (field: MetadataField) in !redactions.contains(field) }
        if keep(.senderIP) { senderIP = envelope.remoteIP }
        if keep(.helo) { helo = envelope.heloDomain }
        if keep(.messageID) { messageID = message.headers.first(named: "Message-ID")?.value }
        if keep(.envelopeFrom) { envelopeFrom = envelope.from }
        if keep(.envelopeTo) { envelopeTo = envelope.to }
        if keep(.subject) { subject = message.headers.first(named: "Subject")?.value }
        if keep(.date) { date = message.headers.first(named: "Date")?.value }
        if keep(.authentication) { authentication = envelope.authentication }
        scan = envelope.scan
        if keep(.tls) {
            tlsVersion = envelope.tls?.version
            tlsCipher = envelope.tls?.cipher
        }
    }

    /// Records the webhook's answer unless the customer redacted it.
    public mutating func recordServerResponse(_ response: String) {
        guard !redacted.contains(.serverResponse) else { return }
        serverResponse = String(response.prefix(1000))
    }

    /// The record with its sender IP masked per the region's policy (after `IPMaskingPolicy.after`).
    public func maskingSenderIP(_ policy: IPMaskingPolicy) -> MessageMetadata {
        var copy = self
        if let senderIP, !senderIPMasked {
            copy.senderIP = IPAddressMask(policy).mask(senderIP) ?? "invalid"
            copy.senderIPMasked = true
        }
        return copy
    }
}

/// The SMTP envelope of a message as the customer's webhook sees it (CloudMailin's `envelope`).
public struct MessageEnvelope: Sendable, Hashable {
    /// The recipient this delivery is for.
    public var to: String
    /// Every accepted recipient of the transaction.
    public var recipients: [String]
    /// The envelope sender; empty for the null reverse path of bounces.
    public var from: String
    public var heloDomain: String
    public var remoteIP: String
    public var tls: SMTPTLSInfo?
    /// The message size in octets as received.
    public var size: Int
    /// What the node learned about the sender (SPF, DKIM, DMARC); nil when the node does not check.
    public var authentication: SenderAuthentication?
    /// The spam and virus scans; nil when the node ran neither step (an older node, or a DSN).
    public var scan: ContentScan?
    /// The recipient's spam threshold, so that `envelope.spamd.spam` says whether its customer would call it spam.
    public var spamThreshold: Double?

    public init(to: String, recipients: [String], from: String, heloDomain: String, remoteIP: String, tls: SMTPTLSInfo?, size: Int) {
        self.to = to
        self.recipients = recipients
        self.from = from
        self.heloDomain = heloDomain
        self.remoteIP = remoteIP
        self.tls = tls
        self.size = size
    }

    /// The envelope of `transaction` for one of its recipients.
    public init(_ transaction: SMTPTransaction, recipient: SMTPMailbox) {
        self.init(
            to: recipient.description, recipients: transaction.recipients.map(\.mailbox.description),
            from: transaction.from?.description ?? "", heloDomain: transaction.helo, remoteIP: transaction.remoteAddress,
            tls: transaction.tls, size: transaction.data.count
        )
    }
}

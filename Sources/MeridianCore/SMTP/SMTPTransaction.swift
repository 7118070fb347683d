/// A message the session accepted the content of; the transport decides its final reply.
public struct SMTPTransaction: Sendable, Hashable {
    public var remoteAddress: String
    public var helo: String
    public var tls: SMTPTLSInfo?
    /// `nil` for the null reverse path `<>` (bounces).
    public var from: SMTPMailbox?
    public var parameters: SMTPCommand.MailParameters
    public var recipients: [Recipient]
    /// The message as received: dot-unstuffed, lines ending in CRLF.
    public var data: [UInt8]

    public struct Recipient: Sendable, Hashable {
        public var mailbox: SMTPMailbox
        /// The customer the recipient policy named.
        public var customer: String

        public init(mailbox: SMTPMailbox, customer: String) {
            self.mailbox = mailbox
            self.customer = customer
        }
    }
}

/// The limits and identity of one SMTP listener. Every limit has the RFC 5321 or operational reason beside it.
public struct SMTPSessionConfiguration: Sendable, Hashable {
    /// The name the server greets with and gives in EHLO.
    public var hostname: String
    /// The largest message accepted, in octets, advertised with `SIZE` (RFC 1870). Default 25 MiB.
    public var maxMessageSize: Int = 25 * 1024 * 1024
    /// Recipients per transaction; RFC 5321 section 4.5.3.1.8 asks for at least 100.
    public var maxRecipients: Int = 100
    /// Failed commands (4xx or 5xx) before the session answers 421 and closes.
    public var maxErrors: Int = 10
    /// Whether `STARTTLS` is offered (a certificate is configured).
    public var tlsAvailable: Bool = false

    /// A command line with its CRLF (RFC 5321 section 4.5.3.1.4).
    public static let commandLineLimit = 512
    /// A text line of DATA with its CRLF (RFC 5321 section 4.5.3.1.6).
    public static let textLineLimit = 1000

    public init(hostname: String) {
        self.hostname = hostname
    }
}

/// The negotiated TLS parameters of a session, as reported by the transport.
public struct SMTPTLSInfo: Sendable, Hashable, Codable {
    /// For example `TLSv1.3`.
    public var version: String
    /// For example `TLS_AES_256_GCM_SHA384`; nil when the TLS library does not report it (swift-nio-ssl
    /// reports the version only).
    public var cipher: String?

    public init(version: String, cipher: String?) {
        self.version = version
        self.cipher = cipher
    }
}

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

/// What the transport must do after feeding the session.
public enum SMTPSessionEvent: Sendable, Hashable {
    /// Write this reply.
    case reply(SMTPReply)
    /// Install TLS, then call ``SMTPSession/tlsEstablished(_:)``. Any plaintext received after the
    /// STARTTLS command was discarded (CVE-2011-0411).
    case startTLS
    /// A complete message: process it, then call ``SMTPSession/completeMessage(with:)`` with the reply.
    case message(SMTPTransaction)
    /// Close the connection after writing the replies before this event.
    case close
}

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
    /// Whether the session keeps its command lines for the protocol log (``SMTPSession/takeCommandLines()``);
    /// message content is never among them.
    public var keepsCommandLines: Bool = false

    /// A command line with its CRLF (RFC 5321 section 4.5.3.1.4).
    public static let commandLineLimit = 512
    /// A text line of DATA with its CRLF (RFC 5321 section 4.5.3.1.6).
    public static let textLineLimit = 1000

    public init(hostname: String) {
        self.hostname = hostname
    }
}

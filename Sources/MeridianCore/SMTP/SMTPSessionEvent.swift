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

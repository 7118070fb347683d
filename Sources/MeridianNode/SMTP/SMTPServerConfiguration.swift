import NIOCore

/// Settings of the SMTP listener; the defaults suit a public MX.
public struct SMTPServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 25
    public var hostname: String
    public var maxConnections = 2_000
    public var maxConnectionsPerIP = 50
    /// A session that sends nothing for this long gets `421 4.4.2` (RFC 5321 section 4.5.3.2 suggests 5 minutes).
    public var idleTimeout: TimeAmount = .minutes(5)
    /// Message data (DATA or BDAT) gets `idleTimeout` plus one second per this many bytes received; a client
    /// slower than that gets `421 4.4.2`. Postfix's `smtpd_min_data_rate` (500) is the model; 0 turns it off.
    public var minDataRate = 500
    /// How long a shutdown waits for transactions in flight before cutting connections.
    public var shutdownGrace: TimeAmount = .seconds(30)
    public var maxMessageSize = 25 * 1024 * 1024
    public var maxRecipients = 100

    public init(hostname: String) { self.hostname = hostname }
}

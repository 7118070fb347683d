import Logging
import MeridianCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

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

/// The open connections, so that a limit can be enforced and a shutdown can drain them.
final class ConnectionRegistry: Sendable {
    /// Sent down each pipeline when the server drains: idle sessions end now, busy ones after their reply.
    struct Drain {}

    private let state = NIOLockedValueBox(State())

    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var perIP: [String: Int] = [:]
    }

    /// Registers the channel unless a limit is reached; returns the refusal reply otherwise.
    func admit(_ channel: any Channel, ip: String, limit: Int, perIPLimit: Int) -> SMTPReply? {
        state.withLockedValue { state in
            if state.channels.count >= limit {
                return SMTPReply(421, "4.3.2", "Too many connections; try again later")
            }
            if state.perIP[ip, default: 0] >= perIPLimit {
                return SMTPReply(421, "4.7.0", "Too many connections from \(ip); try again later")
            }
            state.channels[ObjectIdentifier(channel)] = channel
            state.perIP[ip, default: 0] += 1
            return nil
        }
    }

    func remove(_ channel: any Channel, ip: String) {
        state.withLockedValue { state in
            state.channels[ObjectIdentifier(channel)] = nil
            state.perIP[ip, default: 1] -= 1
            if state.perIP[ip] == 0 { state.perIP[ip] = nil }
        }
    }

    var count: Int { state.withLockedValue { $0.channels.count } }
    var all: [any Channel] { state.withLockedValue { Array($0.channels.values) } }
}

/// The SMTP listener: one ``SMTPSession`` per connection, STARTTLS when a certificate is configured,
/// connection limits, idle timeouts and a graceful shutdown that lets transactions in flight finish.
public final class SMTPServer: Service, Sendable {
    public let configuration: SMTPServerConfiguration
    private let tls: NIOSSLContext?
    private let intake: any MessageIntake
    private let policy: @Sendable () -> (policy: any SMTPRecipientPolicy, version: Int)
    private let logger: Logger
    private let connections = ConnectionRegistry()
    private let boundPort = NIOLockedValueBox<Int?>(nil)
    private let metrics: NodeMetrics

    public init(
        configuration: SMTPServerConfiguration, tls: NIOSSLContext?, intake: any MessageIntake, metrics: NodeMetrics,
        logger: Logger, policy: @escaping @Sendable () -> (policy: any SMTPRecipientPolicy, version: Int)
    ) {
        self.configuration = configuration
        self.tls = tls
        self.intake = intake
        self.metrics = metrics
        self.logger = logger
        self.policy = policy
    }

    /// The port actually bound (useful with port 0), once running.
    public var port: Int? { boundPort.withLockedValue { $0 } }
    public var openConnections: Int { connections.count }

    public func run() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initialize(channel) }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        boundPort.withLockedValue { $0 = channel.localAddress?.port }
        logger.info("smtp: listening", metadata: ["address": "\(configuration.host):\(channel.localAddress?.port ?? configuration.port)"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
        await drain()
    }

    private func initialize(_ channel: any Channel) throws {
        let ip = channel.remoteAddress?.ipAddress ?? "unknown"
        let pipeline = channel.pipeline.syncOperations
        if let refusal = connections.admit(channel, ip: ip, limit: configuration.maxConnections, perIPLimit: configuration.maxConnectionsPerIP) {
            metrics.rejected(code: refusal.code)
            try pipeline.addHandler(RefuseHandler(reply: refusal))
            return
        }
        channel.closeFuture.whenComplete { [connections] _ in connections.remove(channel, ip: ip) }
        var session = SMTPSessionConfiguration(hostname: configuration.hostname)
        session.tlsAvailable = tls != nil
        session.maxMessageSize = configuration.maxMessageSize
        session.maxRecipients = configuration.maxRecipients
        let (policy, version) = self.policy()
        try pipeline.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
        try pipeline.addHandler(
            SMTPConnectionHandler(
                session: SMTPSession(configuration: session, remoteAddress: ip, policy: policy),
                configVersion: version, intake: intake, tls: tls, metrics: metrics, commandTimeout: configuration.idleTimeout, minDataRate: configuration.minDataRate, logger: logger))
    }

    /// Ends every session at its next idle moment, then waits (up to the grace period) for all to close.
    private func drain() async {
        let open = connections.all
        guard !open.isEmpty else { return }
        logger.info("smtp: draining \(open.count) connections")
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(ConnectionRegistry.Drain()) }
        let deadline = ContinuousClock.now + .nanoseconds(configuration.shutdownGrace.nanoseconds)
        while connections.count > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for channel in connections.all { channel.close(promise: nil) }
    }
}

/// Answers a connection over the limit with one reply and closes it.
private final class RefuseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let reply: SMTPReply

    init(reply: SMTPReply) { self.reply = reply }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeBytes(reply.encoded)
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

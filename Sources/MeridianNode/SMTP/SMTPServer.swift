import Foundation
import Logging
import MeridianCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The SMTP listener: one ``SMTPSession`` per connection, STARTTLS when a certificate is configured,
/// connection limits, idle timeouts and a graceful shutdown that lets transactions in flight finish.
///
/// Framing and the session run in channel handlers on the event loops; the work of a finished message (spool
/// it, or post it in sync mode) runs as a child task of the server's own task group, so a graceful shutdown
/// waits for every transaction in flight and nothing outlives the server.
public final class SMTPServer: Service, Sendable {
    public let configuration: SMTPServerConfiguration
    private let tls: NIOSSLContext?
    private let intake: any MessageIntake
    private let policy: @Sendable () -> (policy: any SMTPRecipientPolicy, version: Int)
    private let logger: Logger
    private let connections = ConnectionRegistry()
    private let boundPort = NIOLockedValueBox<Int?>(nil)
    private let metrics: NodeMetrics
    /// Where each session's commands and replies go when it ends; nil keeps none.
    let protocolLog: SMTPProtocolLog?
    let now: @Sendable () -> Date
    /// Finished messages, handed from the connections to the server's task group.
    private let intakes: AsyncStream<Intake>
    private let intakeQueue: AsyncStream<Intake>.Continuation

    /// A transaction to settle, and where its reply goes.
    struct Intake: Sendable {
        var transaction: SMTPTransaction
        var configVersion: Int
        var reply: EventLoopPromise<SMTPReply>
    }

    public init(
        configuration: SMTPServerConfiguration, tls: NIOSSLContext?, intake: any MessageIntake, metrics: NodeMetrics,
        protocolLog: SMTPProtocolLog? = nil, now: @escaping @Sendable () -> Date = Date.init,
        logger: Logger, policy: @escaping @Sendable () -> (policy: any SMTPRecipientPolicy, version: Int)
    ) {
        self.protocolLog = protocolLog
        self.now = now
        self.configuration = configuration
        self.tls = tls
        self.intake = intake
        self.metrics = metrics
        self.logger = logger
        self.policy = policy
        (intakes, intakeQueue) = AsyncStream.makeStream()
    }

    /// The port actually bound (useful with port 0), once running.
    public var port: Int? { boundPort.withLockedValue { $0 } }
    public var openConnections: Int { connections.count }
    /// Whether STARTTLS is offered (a certificate is configured).
    public var offersTLS: Bool { tls != nil }

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
        await withDiscardingTaskGroup { group in
            group.addTask {
                // The listener closes on graceful shutdown (then the sessions drain), or at once if cancelled.
                await withTaskCancellationHandler {
                    await withGracefulShutdownHandler {
                        try? await channel.closeFuture.get()
                    } onGracefulShutdown: {
                        channel.close(promise: nil)
                    }
                } onCancel: {
                    channel.close(promise: nil)
                }
                await self.drain()
                // Every session has ended: no message can arrive any more.
                self.intakeQueue.finish()
            }
            for await intake in intakes {
                group.addTask { [self] in
                    intake.reply.succeed(await self.intake.accept(intake.transaction, configVersion: intake.configVersion))
                }
            }
        }
    }

    /// Hands a finished message to the server's task group; its reply completes `reply`. After the server has
    /// stopped (which a session cannot outlive), the sender is told to try again later.
    func settle(_ transaction: SMTPTransaction, configVersion: Int, reply: EventLoopPromise<SMTPReply>) {
        if case .terminated = intakeQueue.yield(Intake(transaction: transaction, configVersion: configVersion, reply: reply)) {
            reply.succeed(SMTPReply(421, "4.3.2", "Service shutting down; try again later"))
        }
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
        session.keepsCommandLines = protocolLog != nil
        let (policy, version) = self.policy()
        try pipeline.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
        try pipeline.addHandler(
            SMTPConnectionHandler(
                session: SMTPSession(configuration: session, remoteAddress: ip, policy: policy),
                configVersion: version, server: self, tls: tls, metrics: metrics, commandTimeout: configuration.idleTimeout,
                minDataRate: configuration.minDataRate, logger: logger,
                transcript: protocolLog.map { SMTPSessionTranscript(node: $0.node, clientIP: ip, at: now()) }))
    }

    /// Ends every session at its next idle moment, then waits (up to the grace period) for all to close; those
    /// still open then are cut.
    private func drain() async {
        let open = connections.all
        guard !open.isEmpty else { return }
        logger.info("smtp: draining \(open.count) connections")
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(ConnectionRegistry.Drain()) }
        let grace = Duration.nanoseconds(configuration.shutdownGrace.nanoseconds)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.connections.waitUntilEmpty() }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            // All closed, or the grace is over: what is still open is cut, which also ends the wait.
            for channel in connections.all { channel.close(promise: nil) }
            group.cancelAll()
        }
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
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

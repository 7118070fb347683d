import Logging
import MeridianCore
import NIOCore
import NIOSSL
import NIOTLS

/// One SMTP connection: feeds the core's ``SMTPSession`` with what arrives and writes what it answers.
///
/// Everything here runs on the channel's event loop; only the intake of a finished message leaves it.
final class SMTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SMTPSession
    private let configVersion: Int
    /// Where finished messages go to be settled, off the event loop.
    private let server: SMTPServer
    private let tls: NIOSSLContext?
    private let metrics: NodeMetrics
    private let logger: Logger
    private let commandTimeout: TimeAmount
    private var commandDeadline: Scheduled<Void>?
    private let minDataRate: Int
    /// While message data arrives: when it began, how many bytes came, and the check of the floor rate.
    private var dataWatch: (started: NIODeadline, bytes: Int, check: Scheduled<Void>?)?
    /// The session's protocol log, written when the connection closes; nil when the node keeps none.
    private var transcript: SMTPSessionTranscript?
    private var processing = false
    private var draining = false
    private var closed = false

    init(
        session: SMTPSession, configVersion: Int, server: SMTPServer, tls: NIOSSLContext?, metrics: NodeMetrics,
        commandTimeout: TimeAmount, minDataRate: Int, logger: Logger, transcript: SMTPSessionTranscript? = nil
    ) {
        self.transcript = transcript
        self.session = session
        self.commandTimeout = commandTimeout
        self.minDataRate = minDataRate
        self.configVersion = configVersion
        self.server = server
        self.tls = tls
        self.metrics = metrics
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        write(session.greetingReply, context: context)
        context.flush()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if var record = transcript?.record, let log = server.protocolLog {
            record.endedAt = server.now()
            log.write(record)
            transcript = nil
        }
        closed = true
        commandDeadline?.cancel()
        dataWatch?.check?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        dataWatch?.bytes += buffer.readableBytes
        let events = session.receive(buffer.readableBytesView)
        if transcript != nil {
            for line in session.takeCommandLines() { transcript?.add("C", line) }
        }
        if !events.isEmpty {
            commandDeadline?.cancel()
            commandDeadline = nil
        }
        handle(events, context: context)
        watchPartialCommand(context: context)
        watchDataRate(context: context)
    }

    /// Message data trickled a line at a time would also hold a connection for ever, each line resetting the
    /// idle timer. So the data gets the idle timeout plus a second per `minDataRate` bytes received, checked
    /// when that time is up and moved on as bytes arrive.
    private func watchDataRate(context: ChannelHandlerContext) {
        guard minDataRate > 0, !closed, session.isReceivingMessage else {
            dataWatch?.check?.cancel()
            dataWatch = nil
            return
        }
        guard dataWatch == nil else { return }
        dataWatch = (.now(), 0, nil)
        scheduleDataCheck(context: context)
    }

    private func dataDeadline() -> NIODeadline? {
        guard let watch = dataWatch else { return nil }
        // Capped (about 3 years) so that no byte count can overflow the arithmetic.
        let earned = min(Double(watch.bytes) / Double(minDataRate), 100_000_000)
        return watch.started + commandTimeout + .nanoseconds(Int64(earned * 1_000_000_000))
    }

    private func scheduleDataCheck(context: ChannelHandlerContext) {
        guard let deadline = dataDeadline() else { return }
        dataWatch?.check = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) {
            guard !self.closed, !self.processing, self.session.isReceivingMessage, let deadline = self.dataDeadline() else { return }
            if deadline > .now() {
                self.scheduleDataCheck(context: context)  // bytes came since: the deadline moved on
                return
            }
            self.logger.debug("smtp: message data slower than the floor rate; closing", metadata: ["bytes": "\(self.dataWatch?.bytes ?? 0)"])
            self.close(saying: .dataTooSlow, context: context)
        }
    }

    /// The idle timeout is reset by every byte; a command line that trickles in a byte at a time (slowloris)
    /// would hold its connection for ever. So a line gets the idle timeout from its first byte to its end.
    private func watchPartialCommand(context: ChannelHandlerContext) {
        guard !closed, session.hasPartialCommand, commandDeadline == nil else { return }
        commandDeadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: commandTimeout) {
            guard !self.closed, !self.processing, self.session.hasPartialCommand else { return }
            self.logger.debug("smtp: a command line took longer than the idle timeout; closing")
            self.close(saying: .commandTimeout, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read, !processing {
            close(saying: .idleTimeout, context: context)
            return
        }
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            let version = (try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).tlsVersion).flatMap { $0 }
            let name = version.map(Self.name) ?? "TLS"
            transcript?.record.tlsVersion = name
            transcript?.add("T", "handshake completed, \(name)")
            handle(session.tlsEstablished(SMTPTLSInfo(version: name, cipher: nil)), context: context)
            return
        }
        if event is ConnectionRegistry.Drain {
            draining = true
            if !processing && session.isIdle && !closed { close(saying: .shuttingDown, context: context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("smtp: connection error", metadata: ["error": "\(error)"])
        closed = true
        context.close(promise: nil)
    }

    private func handle(_ events: [SMTPSessionEvent], context: ChannelHandlerContext) {
        for event in events {
            switch event {
            case .reply(let reply):
                write(reply, context: context)
            case .startTLS:
                context.flush()
                guard let tls else { continue }
                try? context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            case .message(let transaction):
                process(transaction, context: context)
            case .close:
                close(saying: nil, context: context)
                return
            }
        }
        context.flush()
        if draining && !processing && session.isIdle && !closed { close(saying: .shuttingDown, context: context) }
    }

    private func process(_ transaction: SMTPTransaction, context: ChannelHandlerContext) {
        processing = true
        let promise = context.eventLoop.makePromise(of: SMTPReply.self)
        server.settle(transaction, configVersion: configVersion, reply: promise)
        promise.futureResult.hop(to: context.eventLoop).assumeIsolatedUnsafeUnchecked().whenSuccess { reply in
            self.processing = false
            guard !self.closed else { return }
            self.handle(self.session.completeMessage(with: reply), context: context)
        }
    }

    /// Ends an idle session while the node shuts down: `421 4.3.2`, then close.
    /// Sends `reply`, if any, after what is already written, and closes the connection once all of it is flushed.
    private func close(saying reply: SMTPReply?, context: ChannelHandlerContext) {
        if let reply { write(reply, context: context) }
        closed = true
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func write(_ reply: SMTPReply, context: ChannelHandlerContext) {
        if reply.code >= 400 { metrics.rejected(code: reply.code) }
        if transcript != nil {
            // Our own reply: its only CRs are those of its CRLFs, so dropping them leaves one line per LF.
            transcript?.add("S", String(decoding: reply.encoded.dropLast(2).filter { $0 != 0x0D }, as: UTF8.self))
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        buffer.writeBytes(reply.encoded)
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    static func name(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: "TLSv1"
        case .tlsv11: "TLSv1.1"
        case .tlsv12: "TLSv1.2"
        case .tlsv13: "TLSv1.3"
        }
    }
}

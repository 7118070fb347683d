import Foundation
import Logging
import MeridianCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A forward proxy on loopback through which every request made for a customer leaves the process, in the
/// manner of Stripe's Smokescreen: the HTTP client asks it to `CONNECT host:port`, and the proxy resolves the
/// name itself, drops every address the deployment's ``EgressPolicy`` refuses, and connects to one that is
/// left. The check is made on the address actually connected to, so a name that resolves to a public address
/// when the URL is checked and to `127.0.0.1` when the request is made (DNS rebinding) reaches nothing.
///
/// Only its own process may use it: each CONNECT must carry the random credentials it was made with.
final class EgressProxy: Sendable {
    let port: Int
    /// `Proxy-Authorization` value every CONNECT must carry.
    let authorization: String
    let credentials: (user: String, password: String)
    private let channel: any Channel
    private let policy: @Sendable () -> EgressPolicy
    /// The system resolver; a test gives one that answers differently each time (DNS rebinding).
    private let resolve: @Sendable (String) throws -> [IPAddress]
    private let logger: Logger
    /// The latest failure per `host:port`, so that the client that asked can say why (a proxy's 403 or 502
    /// reaches it only as "invalid proxy response"). Kept a minute, at most ``refusalLimit`` targets.
    private let failures = NIOLockedValueBox<[String: (failure: any Error & Sendable, at: NIODeadline)]>([:])
    /// Hosts found allowed by ``precheck(host:port:)`` in the last 30 seconds.
    private let verdicts = NIOLockedValueBox<[String: (allowed: Bool, at: NIODeadline)]>([:])
    static let refusalLimit = 10_000
    static let connectTimeout: TimeAmount = .seconds(10)

    private init(
        channel: any Channel, credentials: (String, String), policy: @escaping @Sendable () -> EgressPolicy,
        resolve: @escaping @Sendable (String) throws -> [IPAddress], logger: Logger
    ) {
        self.resolve = resolve
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.credentials = credentials
        self.authorization = "Basic " + Data("\(credentials.0):\(credentials.1)".utf8).base64EncodedString()
        self.policy = policy
        self.logger = logger
    }

    /// Binds a free port on 127.0.0.1 and starts answering.
    static func start(
        policy: @escaping @Sendable () -> EgressPolicy, resolve: @escaping @Sendable (String) throws -> [IPAddress], logger: Logger
    ) async throws -> EgressProxy {
        let password = Base64URL.random(bytes: 24)
        let holder = NIOLockedValueBox<EgressProxy?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    guard let proxy = holder.withLockedValue({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try child.pipeline.syncOperations.addHandler(ConnectHandler(proxy: proxy))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxy = EgressProxy(channel: channel, credentials: ("meridian", password), policy: policy, resolve: resolve, logger: logger)
        holder.withLockedValue { $0 = proxy }
        return proxy
    }

    func close() async {
        try? await channel.close()
    }

    /// Why the latest CONNECT to `host:port` failed, if one did within the last minute: an ``EgressRefusal``,
    /// or an ``EgressConnectFailure``.
    func failure(host: String, port: Int) -> (any Error)? {
        let key = Self.key(host, port)
        return failures.withLockedValue { entries in
            guard let entry = entries[key], entry.at + .seconds(60) > .now() else { return nil }
            return entry.failure
        }
    }

    private static func key(_ host: String, _ port: Int) -> String {
        "\(host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))):\(port)"
    }

    private func record(_ failure: any Error & Sendable, host: String, port: Int) {
        failures.withLockedValue { entries in
            if entries.count >= Self.refusalLimit {
                let now = NIODeadline.now()
                entries = entries.filter { $0.value.at + .seconds(60) > now }
                if entries.count >= Self.refusalLimit { entries.removeAll() }
            }
            entries[Self.key(host, port)] = (failure, .now())
        }
    }

    /// Refuses at once a host the policy refused within the last minute or refuses now, so that a request to it
    /// fails at once instead of when the HTTP client gives up retrying its connection. Only a check: the proxy
    /// checks again when it connects. A name that does not resolve is left to the connection to report.
    func precheck(host: String, port: Int) async throws {
        if let refusal = failure(host: host, port: port) as? EgressRefusal { throw refusal }
        let key = Self.key(host, port)
        let cached = verdicts.withLockedValue { entries -> Bool? in
            guard let entry = entries[key], entry.at + .seconds(30) > .now() else { return nil }
            return entry.allowed
        }
        if cached == true { return }
        do {
            _ = try await allowedAddresses(host: host, port: port)
            verdicts.withLockedValue { entries in
                if entries.count >= Self.refusalLimit { entries.removeAll() }
                entries[key] = (true, .now())
            }
        } catch let refusal as EgressRefusal {
            throw refusal
        } catch {
            return
        }
    }

    /// Resolves `host` and keeps the addresses the policy allows; a refusal when none is left.
    private func allowedAddresses(host: String, port: Int) async throws -> [IPAddress] {
        let policy = policy()
        let name = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let resolved: [IPAddress]
        if let literal = IPAddress(host: name) {
            resolved = [literal]
        } else {
            do {
                let resolve = resolve
                resolved = try await NIOThreadPool.singleton.runIfActive { try resolve(name) }
            } catch {
                let failure = EgressConnectFailure(reason: "the host name does not resolve (\(error))")
                record(failure, host: host, port: port)
                throw failure
            }
        }
        var allowed: [IPAddress] = []
        var firstRefusal: EgressRefusal?
        for address in resolved {
            if let refusal = policy.refusal(for: address) {
                firstRefusal = firstRefusal ?? refusal
            } else {
                allowed.append(address)
            }
        }
        guard !allowed.isEmpty else {
            let refusal = firstRefusal ?? EgressRefusal(.address, "\(name) has no address")
            record(refusal, host: host, port: port)
            // The operator's log says which address was refused; the customer's delivery log does not.
            logger.warning("egress: refused", metadata: ["host": "\(name)", "port": "\(port)", "reason": "\(refusal.reason)"])
            throw refusal
        }
        return allowed
    }

    /// Resolves `host`, keeps the addresses the policy allows and connects to the first that answers, on `loop`
    /// (the client connection's, so that the two can be glued without hopping threads).
    func open(host: String, port: Int, on loop: any EventLoop) async throws -> any Channel {
        let allowed = try await allowedAddresses(host: host, port: port)
        var lastError: (any Error)?
        for address in allowed {
            do {
                let target = try SocketAddress(ipAddress: address.description, port: port)
                return try await ClientBootstrap(group: loop)
                    .connectTimeout(Self.connectTimeout)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .connect(to: target).get()
            } catch {
                lastError = error
            }
        }
        let failure = EgressConnectFailure(reason: Self.describe(lastError))
        record(failure, host: host, port: port)
        throw failure
    }

    private static func describe(_ error: (any Error)?) -> String {
        switch error {
        case let error as IOError where error.errnoCode == ECONNREFUSED: "connection refused"
        case let error as ChannelError:
            if case .connectTimeout = error { "connection timed out" } else { "cannot connect: \(error)" }
        case let error?: "cannot connect: \(String(describing: error).prefix(200))"
        case nil: "cannot connect"
        }
    }
}

/// Reads one `CONNECT host:port HTTP/1.1` request head, opens the connection through the proxy's checks, answers
/// `200` and glues the two connections together; anything else is answered with an error and closed.
private final class ConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let proxy: EgressProxy
    private var received: ByteBuffer?
    private var connecting = false
    static let headLimit = 8192

    init(proxy: EgressProxy) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        guard !connecting, let head = received, let end = head.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else {
            if !connecting, (received?.readableBytes ?? 0) > Self.headLimit { answer(context, "431 Request Header Fields Too Large") }
            return
        }
        let text = String(decoding: head.readableBytesView[head.readerIndex..<end.lowerBound], as: UTF8.self)
        received!.moveReaderIndex(to: end.upperBound)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let request = lines.first?.split(separator: " ") ?? []
        guard request.count == 3, request[0] == "CONNECT", request[2].hasPrefix("HTTP/1."),
            let colon = request[1].lastIndex(of: ":"), let port = Int(request[1][request[1].index(after: colon)...]), (1...65535).contains(port)
        else { return answer(context, "400 Bad Request") }
        let authorized = lines.dropFirst().contains { line in
            guard let separator = line.firstIndex(of: ":"), line[..<separator].lowercased() == "proxy-authorization" else { return false }
            return ConstantTime.equal(Array(line[line.index(after: separator)...].trimmingCharacters(in: .whitespaces).utf8), Array(self.proxy.authorization.utf8))
        }
        guard authorized else { return answer(context, "407 Proxy Authentication Required") }
        connecting = true
        let host = String(request[1][..<colon])
        let proxy = proxy
        let loop = context.eventLoop
        let opened = loop.makePromise(of: (any Channel).self)
        opened.completeWithTask { try await proxy.open(host: host, port: port, on: loop) }
        opened.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let peer):
                self.glue(context, to: peer)
            case .failure(let error):
                self.answer(context, error is EgressRefusal ? "403 Forbidden" : "502 Bad Gateway")
            }
        }
    }

    private func glue(_ context: ChannelHandlerContext, to peer: any Channel) {
        guard context.channel.isActive else {
            peer.close(promise: nil)
            return
        }
        let (near, far) = GlueHandler.pair()
        do {
            try context.pipeline.syncOperations.addHandler(near)
            try peer.pipeline.syncOperations.addHandler(far)
        } catch {
            peer.close(promise: nil)
            return answer(context, "502 Bad Gateway")
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 Connection Established\r\n\r\n")), promise: nil)
        if let rest = received, rest.readableBytes > 0 { peer.writeAndFlush(rest, promise: nil) }
        received = nil
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
    }

    private func answer(_ context: ChannelHandlerContext, _ status: String) {
        let response = "HTTP/1.1 \(status)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// One of two handlers that pass bytes between two connections on the same event loop, each reading only as
/// fast as the other side writes, and passing on a half-close and a close.
private final class GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var partner: GlueHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false

    static func pair() -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(), second = GlueHandler()
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    private var writable: Bool { context?.channel.isWritable ?? false }

    private func write(_ data: NIOAny) { context?.write(data, promise: nil) }

    private func flush() { context?.flush() }

    private func closeOutput() {
        context?.close(mode: .output, promise: nil)
    }

    private func closeAll() { context?.close(promise: nil) }

    private func partnerBecameWritable() {
        if readPending {
            readPending = false
            context?.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { partner?.write(data) }

    func channelReadComplete(context: ChannelHandlerContext) { partner?.flush() }

    func channelInactive(context: ChannelHandlerContext) { partner?.closeAll() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            partner?.closeOutput()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        partner?.closeAll()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if partner?.writable ?? false {
            context.read()
        } else {
            readPending = true
        }
    }
}

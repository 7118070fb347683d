import Foundation
import MeridianCore
import NIOCore
import NIOPosix
import Synchronization

/// A DNS stub resolver: asks one recursive resolver over UDP, falls back to TCP when the answer is truncated,
/// tries twice `timeout` apart, and, when it caches, keeps answers for their TTL (at most an hour; names that do
/// not exist for a minute). A node authenticates senders with a caching one; the coordinator checks customers'
/// records with one that does not cache, since a customer who just fixed a record checks again at once.
public final class StubResolver: DNSLookup, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let timeout: TimeAmount
    let cache: DNSCache?

    public init(host: String, port: Int = 53, timeout: TimeAmount = .seconds(2), caching: Bool = false) {
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cache = caching ? DNSCache() : nil
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public func cachedAnswer(_ name: String, _ type: DNSMessage.RecordType) -> DNSAnswer? {
        let name = name.lowercased()
        return cache?.answer(name.hasSuffix(".") ? String(name.dropLast()) : name, type)
    }

    /// `HOST`, `HOST:PORT` or `[IPv6]:PORT`; the host must be an IP address. Nil when `text` is none of these.
    public convenience init?(parsing text: String, timeout: TimeAmount = .seconds(2), caching: Bool = false) {
        var host = text
        var port = 53
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { port = Int(rest.dropFirst()) ?? -1 } else if !rest.isEmpty { return nil }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            port = Int(text[text.index(after: colon)...]) ?? -1
        }
        guard (1...65_535).contains(port), (try? SocketAddress(ipAddress: host, port: port)) != nil else { return nil }
        self.init(host: host, port: port, timeout: timeout, caching: caching)
    }

    /// The first nameserver of /etc/resolv.conf, or 127.0.0.1.
    public static func system(timeout: TimeAmount = .seconds(2), caching: Bool = false) -> StubResolver {
        let text = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver", let resolver = StubResolver(parsing: String(fields[1]), timeout: timeout, caching: caching) {
                return resolver
            }
        }
        return StubResolver(host: "127.0.0.1", timeout: timeout, caching: caching)
    }

    public func lookup(_ name: String, _ type: DNSMessage.RecordType) async throws(DNSLookupError) -> DNSAnswer {
        let name = name.lowercased().hasSuffix(".") ? String(name.lowercased().dropLast()) : name.lowercased()
        guard DNSMessage.isQueryable(name) else {
            throw DNSLookupError(.invalidName, "\(name.prefix(80)) is not a domain name")
        }
        if let cached = cache?.answer(name, type) { return cached }
        var lastError = DNSLookupError(.timeout, "\(self) did not answer")
        for _ in 0..<2 {
            do {
                let response = try await ask(name, type)
                switch response.code {
                case .noError, .nameError:
                    let answer = DNSAnswer(nameExists: response.code == .noError, records: response.records)
                    cache?.store(answer, name, type)
                    return answer
                case .other(let code):
                    // SERVFAIL and the like are the resolver's answer; asking again at once rarely changes it.
                    throw DNSLookupError(.serverFailure, "\(self) answered RCODE \(code) for \(name) \(type)")
                }
            } catch let error as DNSLookupError {
                if error.code == .serverFailure { throw error }
                lastError = error
            } catch {
                lastError = DNSLookupError(.timeout, "\(self): \(error)")
            }
        }
        throw lastError
    }

    /// One exchange: UDP, and TCP when the UDP answer is truncated.
    private func ask(_ name: String, _ type: DNSMessage.RecordType) async throws -> DNSMessage.Response {
        let id = UInt16.random(in: 0...UInt16.max)
        let query = DNSMessage.query(id: id, name: name, type: type)
        let response = try await udp(query) { self.matches($0, id: id, name: name, type: type) }
        guard response.truncated else { return response }
        return try await withDeadline { try await self.tcp(query, id: id, name: name, type: type) }
    }

    private func withDeadline<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = self.timeout
        let description = self.description
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                throw DNSLookupError(.timeout, "\(description) did not answer within \(timeout.nanoseconds / 1_000_000) ms")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func matches(_ response: DNSMessage.Response, id: UInt16, name: String, type: DNSMessage.RecordType) -> Bool {
        // A truncated answer may come without its question (dnslib's does); it only sends the client to TCP.
        response.id == id && (response.question.map { $0.name == name && $0.type == type.rawValue } ?? response.truncated)
    }

    /// One query over UDP from a socket of its own (so a fresh random source port each time), bounded by
    /// `timeout`. Done with a channel handler and a timer on the socket's event loop rather than an async
    /// channel and a task group: a node asks several names per message, and that way costs a fraction of the
    /// CPU (docs/benchmarks.md, "Inbound hygiene").
    private func udp(_ query: [UInt8], accepting: @escaping @Sendable (DNSMessage.Response) -> Bool) async throws -> DNSMessage.Response {
        let server = try SocketAddress(ipAddress: host, port: port)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answer = loop.makePromise(of: DNSMessage.Response.self)
        let description = self.description
        let timeout = self.timeout
        DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramAnswerHandler(server: server, accepting: accepting, answer: answer))
                }
            }
            .bind(host: host.contains(":") ? "::" : "0.0.0.0", port: 0)
            .whenComplete { bound in
                switch bound {
                case .failure(let error):
                    answer.fail(error)
                case .success(let channel):
                    let timer = loop.scheduleTask(in: timeout) {
                        let garbage = (try? channel.pipeline.syncOperations.handler(type: DatagramAnswerHandler.self))?.malformed ?? false
                        answer.fail(
                            garbage
                                ? DNSLookupError(.malformed, "\(description) answered with something that is not the answer")
                                : DNSLookupError(.timeout, "\(description) did not answer within \(timeout.nanoseconds / 1_000_000) ms"))
                    }
                    answer.futureResult.whenComplete { _ in
                        timer.cancel()
                        channel.close(promise: nil)
                    }
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: query)), promise: nil)
                }
            }
        return try await answer.futureResult.get()
    }

    private func tcp(_ query: [UInt8], id: UInt16, name: String, type: DNSMessage.RecordType) async throws -> DNSMessage.Response {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: [UInt8(query.count >> 8), UInt8(query.count & 0xff)] + query))
            var received = ByteBuffer()
            for try await chunk in inbound {
                received.writeImmutableBuffer(chunk)
                guard let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
                    received.readableBytes >= 2 + Int(length)
                else { continue }
                let bytes = received.getBytes(at: received.readerIndex + 2, length: Int(length)) ?? []
                guard let response = try? DNSMessage.parse(bytes), matches(response, id: id, name: name, type: type) else {
                    throw DNSLookupError(.malformed, "\(self) answered over TCP with something that is not the answer")
                }
                return response
            }
            throw DNSLookupError(.malformed, "\(self) closed the TCP connection before answering")
        }
    }
}

/// Takes the first datagram from the server that parses and answers the question. One that does not parse or
/// names another question is ignored (it may be spoofed); if no good one follows, the timeout ends the wait
/// and says the server answered garbage.
private final class DatagramAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let server: SocketAddress
    let accepting: @Sendable (DNSMessage.Response) -> Bool
    let answer: EventLoopPromise<DNSMessage.Response>
    var malformed = false

    init(server: SocketAddress, accepting: @escaping @Sendable (DNSMessage.Response) -> Bool, answer: EventLoopPromise<DNSMessage.Response>) {
        self.server = server
        self.accepting = accepting
        self.answer = answer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else { return }
        guard let response = try? DNSMessage.parse(Array(buffer: envelope.data)), accepting(response) else {
            malformed = true
            return
        }
        answer.succeed(response)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An ICMP "port unreachable" comes back as a read error: no server is there, which the timeout says.
    }
}

/// Answers kept for their TTL, at most `capacity` of them (the oldest go first when it is full). A lock, not
/// an actor: every lookup of every message asks it, and most find their answer there.
final class DNSCache: Sendable {
    struct Key: Hashable {
        var name: String
        var type: UInt16
    }

    private struct State {
        var entries: [Key: (answer: DNSAnswer, expires: ContinuousClock.Instant)] = [:]
        var order: [Key] = []
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 10_000) { self.capacity = capacity }

    func answer(_ name: String, _ type: DNSMessage.RecordType) -> DNSAnswer? {
        let key = Key(name: name, type: type.rawValue)
        return state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            guard entry.expires > .now else {
                state.entries[key] = nil
                return nil
            }
            return entry.answer
        }
    }

    func store(_ answer: DNSAnswer, _ name: String, _ type: DNSMessage.RecordType) {
        let ttl = answer.records.isEmpty ? 60 : min(answer.records.map(\.ttl).min() ?? 0, 3600)
        guard ttl > 0 else { return }
        let key = Key(name: name, type: type.rawValue)
        let capacity = self.capacity
        state.withLock { state in
            if state.entries[key] == nil { state.order.append(key) }
            state.entries[key] = (answer, .now + .seconds(Int(ttl)))
            while state.entries.count > capacity, !state.order.isEmpty {
                state.entries[state.order.removeFirst()] = nil
            }
            if state.order.count > capacity * 2 { state.order = state.order.filter { state.entries[$0] != nil } }
        }
    }
}

import Foundation
import MeridianCore
import NIOCore
import NIOPosix

/// Asks one recursive resolver over UDP for MX and TXT records (`--dns-resolver`; by default the first
/// `nameserver` in /etc/resolv.conf). Each query is tried twice, `timeout` apart. A truncated answer is used
/// as far as it goes: customer MX and TXT sets fit in 512 bytes, and there is no TCP fallback yet.
public struct DNSResolver: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let timeout: TimeAmount

    public init(host: String, port: Int = 53, timeout: TimeAmount = .seconds(2)) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `HOST`, `HOST:PORT` or `[IPv6]:PORT`; the host must be an IP address.
    public init(parsing text: String) throws(CoordinatorError) {
        var host = text
        var port = 53
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { port = Int(rest.dropFirst()) ?? -1 }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            port = Int(text[text.index(after: colon)...]) ?? -1
        }
        guard (1...65_535).contains(port), (try? SocketAddress(ipAddress: host, port: port)) != nil else {
            throw CoordinatorError(.settingInvalid, "--dns-resolver \(text): expected an IP address with an optional port, such as 127.0.0.1:5353")
        }
        self.init(host: host, port: port)
    }

    /// The first nameserver of /etc/resolv.conf, or 127.0.0.1.
    public static func system() -> DNSResolver {
        let text = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 2, fields[0] == "nameserver", let resolver = try? DNSResolver(parsing: String(fields[1])) {
                return resolver
            }
        }
        return DNSResolver(host: "127.0.0.1")
    }

    public struct LookupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// MX hosts, lowest preference first; empty when the name has none or does not exist.
    public func mx(_ name: String) async throws -> [String] {
        try await lookup(name, .mx).mx.map(\.host)
    }

    public func txt(_ name: String) async throws -> [String] {
        try await lookup(name, .txt).txt
    }

    func lookup(_ name: String, _ type: DNSMessage.RecordType) async throws -> DNSMessage.Response {
        var lastError: any Error = LookupError(description: "no answer")
        for _ in 0..<2 {
            do {
                let response = try await once(name, type)
                switch response.code {
                case .noError, .nameError: return response
                case .other(let code): throw LookupError(description: "\(self) answered RCODE \(code) for \(name)")
                }
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private func once(_ name: String, _ type: DNSMessage.RecordType) async throws -> DNSMessage.Response {
        let server = try SocketAddress(ipAddress: host, port: port)
        let id = UInt16.random(in: 0...UInt16.max)
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: host.contains(":") ? "::" : "0.0.0.0", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        let timeout = self.timeout
        let description = self.description
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: DNSMessage.query(id: id, name: name, type: type))))
            return try await withThrowingTaskGroup(of: DNSMessage.Response.self) { group in
                group.addTask {
                    for try await envelope in inbound {
                        guard envelope.remoteAddress == server,
                            let response = try? DNSMessage.parse(Array(buffer: envelope.data)), response.id == id
                        else { continue }
                        return response
                    }
                    throw LookupError(description: "\(description) closed before answering")
                }
                group.addTask {
                    try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                    throw LookupError(description: "\(description) did not answer within \(timeout.nanoseconds / 1_000_000) ms")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        }
    }

    /// Looks up MX and ownership TXT for every domain of an account, at once.
    public func check(domains: [CustomerDomain], pin: RegionID?, catalog: RegionCatalog) async -> [DNSDomainCheck] {
        await withTaskGroup(of: DNSDomainCheck.self) { group in
            for entry in domains {
                group.addTask {
                    async let mx = try? self.mx(entry.domain)
                    async let txt = try? self.txt("_meridian.\(entry.domain)")
                    return DNSDomainCheck(
                        domain: entry.domain, pin: pin, token: entry.verificationToken, catalog: catalog, mx: await mx, txt: await txt)
                }
            }
            var results: [DNSDomainCheck] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.domain < $1.domain }
        }
    }
}

import Foundation
import MeridianCore
import MeridianServer
import NIOCore
import NIOPosix

/// The resolver the coordinator checks customers' MX and TXT records with (`--dns-resolver`; by default the
/// first `nameserver` in /etc/resolv.conf): the shared ``StubResolver`` (UDP, TCP on truncation, a TTL cache).
public struct DNSResolver: Sendable, CustomStringConvertible {
    let stub: StubResolver

    public init(host: String, port: Int = 53, timeout: TimeAmount = .seconds(2)) {
        stub = StubResolver(host: host, port: port, timeout: timeout)
    }

    init(_ stub: StubResolver) { self.stub = stub }

    public var host: String { stub.host }
    public var port: Int { stub.port }
    public var description: String { stub.description }

    /// `HOST`, `HOST:PORT` or `[IPv6]:PORT`; the host must be an IP address.
    public init(parsing text: String) throws(CoordinatorError) {
        guard let stub = StubResolver(parsing: text) else {
            throw CoordinatorError(.settingInvalid, "--dns-resolver \(text): expected an IP address with an optional port, such as 127.0.0.1:5353")
        }
        self.init(stub)
    }

    /// The first nameserver of /etc/resolv.conf, or 127.0.0.1.
    public static func system() -> DNSResolver { DNSResolver(.system()) }

    /// MX hosts, lowest preference first; empty when the name has none or does not exist.
    public func mx(_ name: String) async throws -> [String] {
        try await stub.lookup(name, .mx).mx.map(\.host)
    }

    public func txt(_ name: String) async throws -> [String] {
        try await stub.lookup(name, .txt).txt
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

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MeridianCore

/// The system resolver (getaddrinfo: /etc/hosts, then DNS as resolv.conf says), the way every other program on
/// the machine would resolve a webhook's host. Blocking: run it on a thread pool.
enum HostResolver {
    struct Failure: Error, CustomStringConvertible {
        let code: Int32
        var description: String { String(cString: gai_strerror(code)) }
    }

    /// Every address `host` resolves to, in the resolver's order, without repeats.
    static func addresses(of host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else { throw Failure(code: status) }
        defer { freeaddrinfo(list) }
        var result: [IPAddress] = []
        var entry = list
        while let info = entry?.pointee {
            entry = info.ai_next
            guard let address = info.ai_addr else { continue }
            let bytes: [UInt8]
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                }
                if !result.contains(.v4(bytes)) { result.append(.v4(bytes)) }
            case AF_INET6:
                bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                }
                if !result.contains(.v6(bytes)) { result.append(.v6(bytes)) }
            default:
                continue
            }
        }
        return result
    }
}

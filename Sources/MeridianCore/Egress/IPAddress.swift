/// An IPv4 or IPv6 address as bytes, parsed the lenient way resolvers and URL parsers read a host, so that a
/// check made on the text sees the address a connection would reach: `2852039166`, `0xa9.0xfe.0xa9.0xfe`,
/// `0251.0376.0251.0376` and `169.254.43518` are all `169.254.169.254` (inet_aton's forms, which the WHATWG URL
/// standard follows too), and `[::ffff:169.254.169.254]` is an IPv6 address carrying it.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// The address a URL host or a resolver's answer names, or nil when the text is a name. Brackets around an
    /// IPv6 address are allowed; a zone (`%eth0`) is kept out of the bytes.
    public init?(host: String) {
        var text = Substring(host)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        if text.contains(":") {
            guard let hextets = IPAddressMask.parseIPv6(text) else { return nil }
            self = .v6(hextets.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })
        } else if let octets = Self.parseLenientIPv4(text) {
            self = .v4(octets)
        } else {
            return nil
        }
    }

    /// Whether `host` looks like an IPv4 address in any of the lenient forms (its last label is a number), so
    /// that a host such as `0x7f.1` or `1.2.3.999` is never taken for a name.
    public static func looksNumeric(_ host: String) -> Bool {
        guard let last = host.split(separator: ".", omittingEmptySubsequences: true).last else { return false }
        return Self.number(last) != nil || (last.lowercased().hasPrefix("0x") && last.count > 2)
    }

    /// inet_aton: one to four parts, each decimal, octal (leading 0) or hexadecimal (0x); the last part fills
    /// the bytes the others leave.
    static func parseLenientIPv4(_ text: Substring) -> [UInt8]? {
        var parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count > 1, parts.last?.isEmpty == true { parts.removeLast() }
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        for part in parts {
            guard let value = number(part) else { return nil }
            values.append(value)
        }
        let last = values.removeLast()
        guard values.allSatisfy({ $0 <= 255 }), last < (UInt64(1) << (8 * UInt64(4 - values.count))) else { return nil }
        var bytes = values.map { UInt8($0) }
        for shift in stride(from: 8 * (3 - values.count), through: 0, by: -8) {
            bytes.append(UInt8((last >> UInt64(shift)) & 0xFF))
        }
        return bytes
    }

    private static func number(_ part: Substring) -> UInt64? {
        guard !part.isEmpty, part.count <= 40 else { return nil }
        let lower = part.lowercased()
        if lower.hasPrefix("0x") { return lower.count == 2 ? 0 : UInt64(lower.dropFirst(2), radix: 16) }
        if lower.count > 1, lower.hasPrefix("0") { return UInt64(lower.dropFirst(), radix: 8) }
        return UInt64(lower, radix: 10)
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let bytes), .v6(let bytes): bytes
        }
    }

    /// The IPv4 address an IPv6 address carries in the forms that reach IPv4 hosts: IPv4-mapped (`::ffff:0:0/96`),
    /// IPv4-compatible (`::/96`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`); nil for the others.
    public var embeddedIPv4: [UInt8]? {
        guard case .v6(let b) = self else { return nil }
        if b[0..<10].allSatisfy({ $0 == 0 }) && ((b[10] == 0xFF && b[11] == 0xFF) || (b[10] == 0 && b[11] == 0)) {
            return Array(b[12..<16])
        }
        if b[0..<12] == [0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0][...] { return Array(b[12..<16]) }
        if b[0] == 0x20 && b[1] == 0x02 { return Array(b[2..<6]) }
        return nil
    }

    public var description: String {
        switch self {
        case .v4(let bytes): return IPAddressMask.formatIPv4(bytes)
        case .v6(let bytes):
            return IPAddressMask.formatIPv6(stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) })
        }
    }
}

/// A block of addresses in CIDR notation, `10.0.0.0/8` or `fd00::/8`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible, Codable {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `ADDRESS/LENGTH` (or a single address, a /32 or /128); the address must be written plainly.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return nil }
        let host = String(parts[0])
        let address: IPAddress
        if host.contains(":") {
            guard let parsed = IPAddress(host: host), !host.hasPrefix("[") else { return nil }
            address = parsed
        } else {
            guard let octets = IPAddressMask.parseIPv4(Substring(host)) else { return nil }
            address = .v4(octets)
        }
        let width = address.bytes.count * 8
        let length: Int
        if parts.count == 2 {
            guard let value = Int(parts[1]), parts[1].allSatisfy(\.isASCIIDigit), (0...width).contains(value) else { return nil }
            length = value
        } else {
            length = width
        }
        self.init(address, prefixLength: length)
    }

    init(_ address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public func contains(_ other: IPAddress) -> Bool {
        let mine = address.bytes, theirs = other.bytes
        guard mine.count == theirs.count else { return false }
        var bits = prefixLength
        for index in mine.indices where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            guard mine[index] & mask == theirs[index] & mask else { return false }
            bits -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let network = IPNetwork(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not a network in CIDR notation"))
        }
        self = network
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

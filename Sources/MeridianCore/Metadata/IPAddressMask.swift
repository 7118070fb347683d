/// Masks IP addresses in analytics-type data (DESIGN.md: after 7 days, IPv4 keeps 2 octets, IPv6 keeps 3
/// hextets; CipherMail). The rest is set to zero, so `203.0.113.77` becomes `203.0.0.0` and
/// `2001:db8:85a3:8d3:1319:8a2e:370:7348` becomes `2001:db8:85a3::`. An IPv4-mapped IPv6 address is masked
/// as the IPv4 address it carries.
public struct IPAddressMask: Sendable, Hashable {
    public let ipv4KeepOctets: Int
    public let ipv6KeepHextets: Int

    public init(ipv4KeepOctets: Int, ipv6KeepHextets: Int) {
        self.ipv4KeepOctets = min(4, max(0, ipv4KeepOctets))
        self.ipv6KeepHextets = min(8, max(0, ipv6KeepHextets))
    }

    public init(_ policy: IPMaskingPolicy) {
        self.init(ipv4KeepOctets: policy.ipv4KeepOctets, ipv6KeepHextets: policy.ipv6KeepHextets)
    }

    /// The masked address in canonical text form, or `nil` when `address` is not an IP address.
    public func mask(_ address: String) -> String? {
        if let octets = Self.parseIPv4(Substring(address)) {
            return Self.formatIPv4(maskIPv4(octets))
        }
        var text = Substring(address)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        guard let hextets = Self.parseIPv6(text) else { return nil }
        if hextets[0..<5].allSatisfy({ $0 == 0 }) && hextets[5] == 0xFFFF {
            let octets = [UInt8(hextets[6] >> 8), UInt8(hextets[6] & 0xFF), UInt8(hextets[7] >> 8), UInt8(hextets[7] & 0xFF)]
            return "::ffff:" + Self.formatIPv4(maskIPv4(octets))
        }
        let masked = hextets.enumerated().map { $0.offset < ipv6KeepHextets ? $0.element : 0 }
        return Self.formatIPv6(masked)
    }

    private func maskIPv4(_ octets: [UInt8]) -> [UInt8] {
        octets.enumerated().map { $0.offset < ipv4KeepOctets ? $0.element : 0 }
    }

    // MARK: Parsing and formatting

    /// The four octets of a dotted IPv4 address, or nil (no leading zeros, each part 0 to 255).
    public static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy(\.isASCIIDigit), part.count == 1 || part.first != "0",
                let value = UInt8(part)
            else { return nil }
            octets.append(value)
        }
        return octets
    }

    static func parseIPv6(_ text: Substring) -> [UInt16]? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        let halves = text.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count <= 2, !(halves.count == 2 && halves[1].contains("::")) else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var values: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains("."), let octets = parseIPv4(piece) {
                    values.append(UInt16(octets[0]) << 8 | UInt16(octets[1]))
                    values.append(UInt16(octets[2]) << 8 | UInt16(octets[3]))
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                values.append(value)
            }
            return values
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 8 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 7 else { return nil }
        return head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }

    static func formatIPv4(_ octets: [UInt8]) -> String { octets.map(String.init).joined(separator: ".") }

    /// RFC 5952: lower-case hex, no leading zeros, the longest run of two or more zero groups as `::`.
    static func formatIPv6(_ hextets: [UInt16]) -> String {
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && hextets[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength && index - runStart >= 2 { (bestStart, bestLength) = (runStart, index - runStart) }
                runStart = -1
            }
        }
        let hex = hextets.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        return hex[..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLength)...].joined(separator: ":")
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

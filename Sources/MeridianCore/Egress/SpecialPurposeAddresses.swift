/// The address blocks of IANA's IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates)
/// that are not globally reachable, with the name an error gives each. An outbound request made for a customer
/// may reach none of them unless the deployment allows the block by name.
public enum SpecialPurposeAddresses {
    public struct Block: Sendable {
        public let network: IPNetwork
        /// What the block is, as a refusal names it: "loopback", "private (RFC 1918)".
        public let name: String
    }

    public static let ipv4: [Block] = [
        ("0.0.0.0/8", "'this network' (RFC 791)"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space, CGNAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback (RFC 1122)"),
        ("169.254.0.0/16", "link-local, cloud metadata (RFC 3927)"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
        ("192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
        ("192.88.99.0/24", "6to4 relay anycast (RFC 7526)"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
        ("203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
        ("224.0.0.0/4", "multicast (RFC 5771)"),
        ("240.0.0.0/4", "reserved (RFC 1112)"),
        ("255.255.255.255/32", "limited broadcast (RFC 919)"),
    ].map { Block(network: IPNetwork($0.0)!, name: $0.1) }

    /// Everything outside global unicast (`2000::/3`) is refused first; these are the blocks inside it, and the
    /// named ones outside it that a refusal should name.
    public static let ipv6: [Block] = [
        ("::/128", "unspecified (RFC 4291)"),
        ("::1/128", "loopback (RFC 4291)"),
        ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation (RFC 8215)"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("2001::/23", "IETF protocol assignments, Teredo (RFC 2928)"),
        ("2001:db8::/32", "documentation (RFC 3849)"),
        ("2002::/16", "6to4 (RFC 3056)"),
        ("3fff::/20", "documentation (RFC 9637)"),
        ("5f00::/16", "segment routing SIDs (RFC 9602)"),
        ("fc00::/7", "unique-local (RFC 4193)"),
        ("fe80::/10", "link-local (RFC 4291)"),
        ("fec0::/10", "site-local, deprecated (RFC 3879)"),
        ("ff00::/8", "multicast (RFC 4291)"),
    ].map { Block(network: IPNetwork($0.0)!, name: $0.1) }

    static let globalUnicast = IPNetwork("2000::/3")!

    /// The name of the non-global block `address` is in, or nil when it is globally reachable. An IPv6 address
    /// that carries an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address too.
    public static func block(of address: IPAddress) -> String? {
        switch address {
        case .v4:
            return ipv4.first { $0.network.contains(address) }?.name
        case .v6:
            if let embedded = address.embeddedIPv4, let inner = block(of: .v4(embedded)) { return "\(inner), inside an IPv6 address" }
            if let named = ipv6.first(where: { $0.network.contains(address) }) { return named.name }
            if !globalUnicast.contains(address) { return "not global unicast IPv6 (outside 2000::/3)" }
            return nil
        }
    }
}

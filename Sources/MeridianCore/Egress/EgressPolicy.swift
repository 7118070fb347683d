import Foundation

/// Where outbound requests made for a customer may go (webhooks, the content-analysis step, the coordinator's
/// webhook events): a deployment's rules, compiled into every bundle so the API that accepts a URL and the node
/// that connects to it apply the same ones.
///
/// By default only `https` to globally reachable addresses. A deployment may allow `http` and named networks
/// (`meridian coordinator --webhook-allow-http --webhook-allow-network CIDR`); `meridian up`, the local
/// sandbox, allows both for loopback only, so the tour's local receiver works.
public struct EgressPolicy: Sendable, Hashable, Codable {
    /// Whether `http` URLs are accepted besides `https`.
    public var allowHTTP: Bool
    /// Blocks that may be reached although they are not global (a private network the operator runs receivers on).
    public var allowedNetworks: [IPNetwork]

    public init(allowHTTP: Bool = false, allowedNetworks: [IPNetwork] = []) {
        self.allowHTTP = allowHTTP
        self.allowedNetworks = allowedNetworks
    }

    /// Production: `https` to global addresses only.
    public static let production = EgressPolicy()
    /// `meridian up`: `http` too, and loopback, nothing else private.
    public static let sandbox = EgressPolicy(allowHTTP: true, allowedNetworks: [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!])

    enum CodingKeys: String, CodingKey {
        case allowHTTP = "allow_http"
        case allowedNetworks = "allow_networks"
    }

    /// Whether a connection to `address` is allowed; when not, why (the block it is in).
    public func refusal(for address: IPAddress) -> EgressRefusal? {
        if allowedNetworks.contains(where: { $0.contains(address) }) { return nil }
        guard let block = SpecialPurposeAddresses.block(of: address) else { return nil }
        return EgressRefusal(.address, "\(address) is \(block), not a public address")
    }

    /// The checks a URL can be given without DNS: scheme, user info, a host that is an address in any numeric
    /// form, and the names that always mean this machine or a private network. What a name resolves to is
    /// checked when the connection is made (``EgressPolicy/refusal(for:)``).
    public func refusal(forURL text: String) -> EgressRefusal? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), let host = components.host,
            !host.isEmpty
        else { return EgressRefusal(.malformed, "not an absolute URL with a host") }
        switch scheme {
        case "https": break
        case "http" where allowHTTP: break
        case "http": return EgressRefusal(.scheme, "webhook URLs must use https in this deployment")
        default: return EgressRefusal(.scheme, "the scheme \(scheme) is not allowed; use https")
        }
        if components.user != nil || components.password != nil {
            return EgressRefusal(.malformed, "user names and passwords do not belong in the URL; the request is signed instead")
        }
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        if let address = IPAddress(host: name) { return refusal(for: address) }
        if host.hasPrefix("[") || host.contains(":") || IPAddress.looksNumeric(name) {
            return EgressRefusal(.malformed, "\(host) is neither a host name nor an IP address")
        }
        if name == "localhost" || name.hasSuffix(".localhost") {
            return refusal(for: .v4([127, 0, 0, 1])).map { _ in EgressRefusal(.address, "\(name) is this machine (loopback), not a public host") }
        }
        for suffix in ["internal", "local", "home.arpa", "lan", "intranet", "corp"] where name == suffix || name.hasSuffix("." + suffix) {
            return EgressRefusal(.address, "\(name) is a private name (.\(suffix)), not a public host")
        }
        return nil
    }
}

/// Why an outbound request made for a customer is not made.
public struct EgressRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Rule: String, Sendable {
        /// A scheme other than https (or http where allowed).
        case scheme
        /// A host that is, or resolves only to, a non-public address.
        case address
        /// Not a URL a request can be made to.
        case malformed
    }

    public let rule: Rule
    public let reason: String

    public init(_ rule: Rule, _ reason: String) {
        self.rule = rule
        self.reason = reason
    }

    public var description: String { reason }
}

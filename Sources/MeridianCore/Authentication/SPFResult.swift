/// The result of an SPF check (RFC 7208 §2.6) and the domain it was made for, as the payload's
/// `envelope.spf` carries it (CloudMailin's shape: `{"result": "pass", "domain": "example.com"}`).
public struct SPFResult: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case none, neutral, pass, fail, softfail, temperror, permerror
    }

    public var result: Kind
    /// The MAIL FROM domain, or the HELO name when the reverse path was empty.
    public var domain: String
    /// Why, when it is not a plain match: "too many DNS lookups", "the resolver timed out", ...
    public var reason: String?

    public init(_ result: Kind, domain: String, reason: String? = nil) {
        self.result = result
        self.domain = domain
        self.reason = reason
    }
}

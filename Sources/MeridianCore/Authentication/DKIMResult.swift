/// The outcome of one DKIM signature (RFC 8601 §2.7.1), as the payload's `envelope.dkim.result[]` carries it.
public struct DKIMResult: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// pass: the signature verified. fail: it did not (body or header changed, wrong key).
        case pass, fail
        /// Verified or not, a rule refuses it: expired, rsa-sha1, a key under 1024 bits, a key not for e-mail.
        case policy
        /// The signature or its key is malformed, missing or revoked.
        case permerror
        /// The key could not be looked up now.
        case temperror
    }

    public var result: Kind
    public var domain: String
    public var selector: String
    /// The first 8 characters of `b=`, which tell signatures of one domain apart (RFC 6008).
    public var signature: String?
    public var reason: String?

    public init(_ result: Kind, domain: String, selector: String, signature: String? = nil, reason: String? = nil) {
        self.result = result
        self.domain = domain
        self.selector = selector
        self.signature = signature
        self.reason = reason
    }
}

/// The DMARC outcome for a message (RFC 7489 §6.6), as the payload's `envelope.dmarc` carries it.
public struct DMARCResult: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case pass, fail, none, temperror, permerror
    }

    public var result: Kind
    /// The RFC5322.From domain.
    public var fromDomain: String
    /// Its organizational domain, from the Public Suffix List.
    public var organizationalDomain: String?
    /// The policy that applies to this From domain (sp= for a subdomain when the record is the organization's).
    public var policy: DMARCRecord.Policy?
    public var spfAligned: Bool
    public var dkimAligned: Bool
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case result, fromDomain = "from_domain", organizationalDomain = "organizational_domain", policy
        case spfAligned = "spf_aligned", dkimAligned = "dkim_aligned", reason
    }

    public init(
        _ result: Kind, fromDomain: String, organizationalDomain: String? = nil, policy: DMARCRecord.Policy? = nil, spfAligned: Bool = false,
        dkimAligned: Bool = false, reason: String? = nil
    ) {
        self.result = result
        self.fromDomain = fromDomain
        self.organizationalDomain = organizationalDomain
        self.policy = policy
        self.spfAligned = spfAligned
        self.dkimAligned = dkimAligned
        self.reason = reason
    }

    /// Whether the sender asked for failing mail to be refused: DMARC failed under `p=reject`.
    public var failsRejectPolicy: Bool { result == .fail && policy == .reject }
}

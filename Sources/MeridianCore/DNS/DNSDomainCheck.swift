/// Compares what a domain publishes with what its account needs (``DNSRecordPlan``).
public struct DNSDomainCheck: Sendable, Equatable {
    public enum Status: String, Sendable { case verified, wrongRegion = "wrong_region", missing, lookupFailed = "lookup_failed" }
    public enum Ownership: String, Sendable { case verified, missing, lookupFailed = "lookup_failed" }

    public var domain: String
    public var status: Status
    public var mxHosts: [String]
    /// The region whose MX host (or the global MX host, as `nil` with `pointsAtGlobal`) the domain uses.
    public var mxRegion: RegionID?
    public var ownership: Ownership
    public var detail: String

    /// - Parameters:
    ///   - mx: the MX hosts found, or nil when the lookup failed.
    ///   - txt: the TXT strings at `_meridian.<domain>`, or nil when the lookup failed.
    public init(domain: String, pin: RegionID?, token: String, catalog: RegionCatalog, mx: [String]?, txt: [String]?) {
        self.domain = domain
        let expected = catalog.mxHost(for: pin).lowercased()
        let hosts = mx ?? []
        self.mxHosts = hosts
        let regionOf = Dictionary(catalog.regions.map { ($0.mxHost.lowercased(), $0.id) }, uniquingKeysWith: { a, _ in a })
        self.mxRegion = hosts.lazy.compactMap { regionOf[$0] }.first
        let wanted = "meridian-verification=\(token)"
        switch txt {
        case nil: ownership = .lookupFailed
        case let values?: ownership = values.contains(wanted) ? .verified : .missing
        }
        guard mx != nil, txt != nil else {
            status = .lookupFailed
            detail = "the resolver did not answer for \(domain); try again later"
            return
        }
        let pointsRight = hosts.first == expected
        let other = hosts.first { regionOf[$0] != nil && $0 != expected }
        if let other, !pointsRight || hosts.count > 1 {
            status = .wrongRegion
            detail = "MX \(other) sends mail to the \(regionOf[other]!) region; the account needs MX 10 \(expected)"
                + (pin.map { " (pinned to \($0))" } ?? " (unpinned)") + " and no other Meridian MX"
        } else if !pointsRight {
            status = .missing
            detail = hosts.isEmpty
                ? "\(domain) has no MX record; publish MX 10 \(expected)"
                : "\(domain) points at \(hosts.joined(separator: ", ")), not at \(expected); make MX 10 \(expected) its first MX"
        } else if ownership != .verified {
            status = .missing
            detail = "publish TXT \"\(wanted)\" at _meridian.\(domain) to prove the account owns \(domain)"
        } else {
            status = .verified
            detail = "MX and ownership record are in place"
        }
    }
}

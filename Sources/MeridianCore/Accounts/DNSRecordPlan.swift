/// The DNS records a customer must publish: an MX per domain pointing at its region's MX host (or the global
/// one when unpinned), and a TXT at `_meridian.<domain>` that proves it owns the domain.
public struct DNSRecordPlan: Sendable, Hashable {
    public struct Record: Sendable, Hashable {
        public enum Kind: String, Sendable { case mx = "MX", txt = "TXT" }
        public var domain: String
        public var kind: Kind
        /// The owner name of the record.
        public var name: String
        public var value: String
        public var priority: Int?
        /// Why the record is needed, in a sentence a customer understands.
        public var purpose: String
    }

    public var mxHost: String
    public var records: [Record]

    /// - Parameter domains: each domain with its ownership-verification token.
    public init(pin: RegionID?, catalog: RegionCatalog, domains: [(domain: String, verificationToken: String)]) {
        let mxHost = catalog.mxHost(for: pin)
        self.mxHost = mxHost
        let routing = pin.map { "Routes mail for this domain to the \($0) region only." }
            ?? "Routes mail for this domain to the nearest region (the account is not pinned)."
        self.records = domains.sorted { $0.domain < $1.domain }.flatMap { entry in
            [
                Record(domain: entry.domain, kind: .mx, name: entry.domain, value: mxHost, priority: 10, purpose: routing),
                Record(
                    domain: entry.domain, kind: .txt, name: "_meridian.\(entry.domain)",
                    value: "meridian-verification=\(entry.verificationToken)", priority: nil,
                    purpose: "Proves that the account owns this domain."),
            ]
        }
    }
}

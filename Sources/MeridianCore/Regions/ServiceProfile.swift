/// The service-wide settings in `Regions/service.yaml`.
public struct ServiceProfile: Sendable, Hashable {
    public var name: String
    /// The DNS zone under which the MX hosts live, e.g. `meridian.example`.
    public var dnsZone: String
    /// The global MX host for unpinned customers, e.g. `mx.meridian.example`.
    public var mxHost: String
    public var controller: Party
    public var dpo: Party

    public struct Party: Sendable, Hashable {
        public var name: String
        public var email: String
        public var address: String?
    }
}

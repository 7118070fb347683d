
/// One processing region as described by `Regions/<id>.yaml`.
public struct Region: Sendable, Hashable {
    public var id: RegionID
    public var name: String
    /// The legal regime the region's data sits under, e.g. "EU/EEA (GDPR)".
    public var jurisdiction: String
    /// Where the machines are, in words, e.g. "Frankfurt, Germany".
    public var location: String
    /// The cloud provider region that hosts it, e.g. `eu-central-1`; Terraform places everything here.
    public var providerRegion: String
    /// The MX host that customers pinned to this region point their domains at.
    public var mxHost: String
    public var nodes: [NodeEndpoint]
    public var retention: RetentionPolicy
    public var queue: QueuePolicy
    public var ipMasking: IPMaskingPolicy

    public struct NodeEndpoint: Sendable, Hashable {
        public var id: String
        /// The node's control API, used by the coordinator for config push and metadata queries.
        public var controlURL: String
    }
}

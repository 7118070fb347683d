/// A node's pull (`GET /node/v1/bundle`): its region and id, the version it has in force (0 for none), and
/// where the coordinator reaches its control API, as query parameters.
public struct BundlePull: Sendable, Equatable {
    public var region: String
    public var node: String
    public var version: Int
    public var controlURL: String

    public init(region: String, node: String, version: Int, controlURL: String) {
        self.region = region
        self.node = node
        self.version = version
        self.controlURL = controlURL
    }

    public static let regionParameter = "region"
    public static let nodeParameter = "node"
    public static let versionParameter = "version"
    public static let controlURLParameter = "control_url"

    /// The query parameters, in order.
    public var parameters: [(name: String, value: String)] {
        [
            (Self.regionParameter, region), (Self.nodeParameter, node), (Self.versionParameter, "\(version)"),
            (Self.controlURLParameter, controlURL),
        ]
    }
}

/// A node's report to the coordinator after a pull (`POST /node/v1/reports`): who it is, where the coordinator
/// reaches it, and its ``BundleReport``.
public struct NodeReport: Sendable, Codable, Equatable {
    public var region: String
    public var node: String
    public var controlURL: String
    public var report: BundleReport

    public init(region: String, node: String, controlURL: String, report: BundleReport) {
        self.region = region
        self.node = node
        self.controlURL = controlURL
        self.report = report
    }

    enum CodingKeys: String, CodingKey { case region, node, report, controlURL = "control_url" }
}

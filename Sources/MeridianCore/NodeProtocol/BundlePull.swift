/// A node's pull (`GET /node/v1/bundle`): the version it has in force (0 for none), as a query parameter. Its
/// region and id are those its certificate names.
public struct BundlePull: Sendable, Equatable {
    public var version: Int

    public init(version: Int) {
        self.version = version
    }

    public static let versionParameter = "version"

    /// The query parameters, in order.
    public var parameters: [(name: String, value: String)] { [(Self.versionParameter, "\(version)")] }
}

import MeridianCore

/// Where a regional node listens under `meridian up` (DESIGN.md): SMTP on 2525 (eu), 2526 (us), 2527 (ap), the
/// control API (mutual TLS) on 9101, 9102, 9103 and the probe port on 9111, 9112, 9113, each plus the port offset.
public struct NodeListenAddresses: Sendable, Hashable {
    public var smtpPort: Int
    public var controlPort: Int
    public var probePort: Int

    static let contractOrder = ["eu", "us", "ap"]

    /// The ports for `region` under `meridian up`, or nil for a region outside the eu/us/ap contract.
    public static func forUp(region: RegionID, portOffset: Int) -> NodeListenAddresses? {
        guard let index = contractOrder.firstIndex(of: region.rawValue) else { return nil }
        return NodeListenAddresses(smtpPort: 2525 + index + portOffset, controlPort: 9101 + index + portOffset, probePort: 9111 + index + portOffset)
    }
}

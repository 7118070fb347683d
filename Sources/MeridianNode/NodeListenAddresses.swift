import MeridianCore

/// Where a regional node listens under `meridian up` (DESIGN.md): SMTP on 2525 (eu), 2526 (us), 2527 (ap) and
/// the control API on 9101, 9102, 9103, each plus the port offset. The SMTP listener itself comes with the
/// node issue; this library holds only what the contract already fixes.
public struct NodeListenAddresses: Sendable, Hashable {
    public var smtpPort: Int
    public var controlPort: Int

    static let contractOrder = ["eu", "us", "ap"]

    /// The ports for `region` under `meridian up`, or nil for a region outside the eu/us/ap contract.
    public static func forUp(region: RegionID, portOffset: Int) -> NodeListenAddresses? {
        guard let index = contractOrder.firstIndex(of: region.rawValue) else { return nil }
        return NodeListenAddresses(smtpPort: 2525 + index + portOffset, controlPort: 9101 + index + portOffset)
    }
}

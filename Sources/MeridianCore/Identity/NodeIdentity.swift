/// Who a party of the node protocol is, as its certificate says it in a SPIFFE-style URI subject alternative
/// name: `spiffe://<zone>/region/<region>/node/<id>` for an enrolled node, `spiffe://<zone>/coordinator` for
/// the coordinator. The coordinator takes a node's region and id from here, never from a request.
public enum NodeIdentity: Sendable, Hashable, CustomStringConvertible {
    case node(zone: String, region: RegionID, id: String)
    case coordinator(zone: String)

    /// The URI as certificates carry it.
    public var uri: String {
        switch self {
        case .node(let zone, let region, let id): "spiffe://\(zone)/region/\(region)/node/\(id)"
        case .coordinator(let zone): "spiffe://\(zone)/coordinator"
        }
    }

    public var description: String { uri }

    /// Reads an identity URI; nil for anything else.
    public init?(uri: String) {
        guard uri.hasPrefix("spiffe://") else { return nil }
        let parts = uri.dropFirst("spiffe://".count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 2 where parts[1] == "coordinator" && !parts[0].isEmpty:
            self = .coordinator(zone: parts[0])
        case 5 where parts[1] == "region" && parts[3] == "node" && !parts[0].isEmpty && Self.isNodeID(parts[4]):
            guard let region = RegionID(parts[2]) else { return nil }
            self = .node(zone: parts[0], region: region, id: parts[4])
        default:
            return nil
        }
    }

    /// A node id: 1 to 64 letters, digits, `-`, `_` and `.`.
    public static func isNodeID(_ text: String) -> Bool {
        (1...64).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }
}

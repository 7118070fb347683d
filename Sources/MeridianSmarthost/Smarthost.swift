/// Where notifications (DSNs) leave the node: an SMTP relay, such as the provider's outbound service.
public struct Smarthost: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// Parses `host:port` or `host` (port 25).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty, parts.count <= 2 else { return nil }
        self.host = String(host)
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65_535).contains(port) else { return nil }
            self.port = port
        } else {
            self.port = 25
        }
    }

    public var description: String { "\(host):\(port)" }
}

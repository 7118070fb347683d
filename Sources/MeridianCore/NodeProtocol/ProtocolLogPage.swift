/// A node's answer to `GET /v1/protocol-log`: where the sessions were logged and the sessions.
public struct ProtocolLogPage: Sendable, Codable {
    public var region: String
    public var node: String
    public var sessions: [SMTPProtocolRecord]

    public init(region: String, node: String, sessions: [SMTPProtocolRecord]) {
        self.region = region
        self.node = node
        self.sessions = sessions
    }
}

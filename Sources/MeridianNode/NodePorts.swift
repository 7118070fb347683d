import MeridianServer

/// The ports the node's HTTP listeners bound, known once they listen.
public struct NodePorts: Sendable {
    /// The control API's (mutual TLS).
    public let control = BoundPort()
    /// The probe port's (plain HTTP).
    public let probe = BoundPort()

    public init() {}
}

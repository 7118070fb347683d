/// What became of a bundle offered to a node, from its bundle file, a coordinator push or a pull: the node's
/// ACK or NACK. A node answers a push with it, and sends it inside a ``NodeReport`` after a pull.
public struct BundleReport: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case ack, nack }
    public var status: Status
    /// The version the offer carried, when it could be read.
    public var offered: Int?
    /// The version in force after the offer.
    public var version: Int
    /// Why a NACK was given.
    public var error: String?

    public init(status: Status, offered: Int?, version: Int, error: String?) {
        self.status = status
        self.offered = offered
        self.version = version
        self.error = error
    }
}

import Foundation
import MeridianCore

/// What the coordinator knows of one node: where to push, and what it last answered.
public struct NodeRecord: Sendable, Hashable {
    public enum Result: String, Sendable { case ack, nack, unreachable }
    public var id: String
    public var region: String
    public var controlURL: String
    /// The newest version the node acknowledged.
    public var appliedVersion: Int?
    public var lastResult: Result?
    public var lastError: String?
    public var lastResultAt: Date?
    public var firstSeenAt: Date
    public var lastSeenAt: Date
}

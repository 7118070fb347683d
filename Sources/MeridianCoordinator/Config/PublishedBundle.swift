import Foundation
import MeridianCore

/// A region's signed bundle as the coordinator last published it.
public struct PublishedBundle: Sendable, Hashable {
    public var region: RegionID
    public var version: Int
    /// The JSON of a ``SignedBundle``, sent as is to nodes.
    public var signed: Data
}

/// A region's signed delta from one version to the next.
public struct PublishedDelta: Sendable, Hashable {
    public var region: RegionID
    public var baseVersion: Int
    public var version: Int
    /// The JSON of a ``SignedBundle`` whose payload is the delta's canonical JSON.
    public var signed: Data
}

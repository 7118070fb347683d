import Foundation
import MeridianCore

public struct RegionChange: Sendable, Hashable {
    public var from: RegionID?
    public var to: RegionID?
    public var at: Date
    public var actorID: String
    public var actorRole: String
    public var reason: String?
}

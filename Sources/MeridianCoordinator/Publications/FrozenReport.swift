import Foundation
import MeridianCore

/// Frozen transparency reports: the report's exact JSON bytes and their Ed25519 signature.
public struct FrozenReport: Sendable, Hashable {
    public var report: TransparencyReport
    public var json: String
    public var signature: Data
    public var frozenAt: Date
    public var frozenBy: String
}

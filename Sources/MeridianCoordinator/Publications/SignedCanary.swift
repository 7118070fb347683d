import Foundation
import MeridianCore

/// A canary as issued: its statement, the exact signed text and the raw 64-byte Ed25519 signature.
public struct SignedCanary: Sendable, Hashable {
    public var statement: CanaryStatement
    public var text: String
    public var signature: Data
    public var issuedBy: String
}

import Foundation
import MeridianCore

/// What the coordinator knows of one node: where it is, how far its enrollment went, and what it last answered.
public struct NodeRecord: Sendable, Hashable {
    public enum Result: String, Sendable { case ack, nack, unreachable }

    /// How far a node's enrollment went.
    public enum Enrollment: String, Sendable {
        /// It announced itself with the shared node token of builds before enrollment; it is not sent to, and
        /// takes part again once an admin enrolls it.
        case registered
        /// An admin enrolled it; its join token is out.
        case enrolled
        /// It joined: it holds a certificate of the node CA.
        case active
        /// Its access ended.
        case revoked
    }

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
    public var enrollment: Enrollment = .registered
    /// The node's public key (SubjectPublicKeyInfo DER, base64), from the request it joined or renewed with.
    public var publicKey: String?
    /// The serial numbers (hex) of the node's current certificate and of the one it renewed from, which stays
    /// good until it expires.
    public var certificateSerial: String?
    public var previousCertificateSerial: String?
    public var certificateExpiresAt: Date?
    public var enrolledAt: Date?
    public var revokedAt: Date?

    /// Whether the node is one the coordinator sends to: it joined and is not revoked.
    public var takesPushes: Bool { enrollment == .active }
}

import Crypto
import Foundation

/// One entry of the append-only audit log: who did what to which thing, when and from where.
///
/// Each entry carries the hash of the one before it, so changing, removing or reordering any entry breaks
/// every hash after it. ``AuditChain`` checks that.
public struct AuditRecord: Sendable, Hashable, Codable {
    /// Position in the log, from 1, without gaps.
    public var sequence: Int64
    /// When it happened, in whole milliseconds since the Unix epoch (UTC).
    public var timestampMillis: Int64
    /// The token id of the actor, or `system:<job>` for the coordinator's own jobs.
    public var actorID: String
    /// The actor's role, or `system`.
    public var actorRole: String
    /// What happened, `<resource>.<verb>`: `customer.create`, `customer.read`, `token.revoke`.
    public var action: String
    /// The resource acted on, e.g. a customer id; empty when the action has no single target.
    public var target: String
    /// The client address the request came from, or `-` when there was none (a job, a test).
    public var sourceIP: String
    /// What changed or what was read, as flat key/value text (never secrets).
    public var detail: [String: String]
    /// The hash of the previous entry, hex; 64 zeros for the first.
    public var previousHash: String
    /// SHA-256 over this entry's fields and `previousHash`, hex.
    public var hash: String

    public static let genesisHash = String(repeating: "0", count: 64)

    public init(
        sequence: Int64, timestampMillis: Int64, actorID: String, actorRole: String, action: String, target: String,
        sourceIP: String, detail: [String: String], previousHash: String
    ) {
        self.sequence = sequence
        self.timestampMillis = timestampMillis
        self.actorID = actorID
        self.actorRole = actorRole
        self.action = action
        self.target = target
        self.sourceIP = sourceIP
        self.detail = detail
        self.previousHash = previousHash
        self.hash = ""
        self.hash = computedHash()
    }

    /// The hash this entry's fields call for. Each field goes in length-prefixed, so no choice of
    /// separators inside a field can make two different entries hash alike; detail keys go in sorted order.
    public func computedHash() -> String {
        var hasher = SHA256()
        func field(_ text: String) {
            let bytes = Array(text.utf8)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(data: bytes)
        }
        field("meridian-audit-v1")
        field(previousHash)
        field(String(sequence))
        field(String(timestampMillis))
        field(actorID)
        field(actorRole)
        field(action)
        field(target)
        field(sourceIP)
        field(String(detail.count))
        for key in detail.keys.sorted() {
            field(key)
            field(detail[key] ?? "")
        }
        return hasher.finalize().hexString
    }
}

import Foundation
import MeridianCore

/// A bearer token as stored: never the secret, only its SHA-256.
public struct TokenRecord: Sendable, Hashable {
    public var id: String
    public var name: String
    public var role: Role
    /// The account a customer token is scoped to; nil for operators.
    public var customerID: String?
    public var secretHash: String
    public var createdAt: Date
    public var createdBy: String
    public var expiresAt: Date?
    public var revokedAt: Date?

    public func isActive(at date: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > date } ?? true)
    }
}

public protocol TokenRepository: Sendable {
    func create(_ token: TokenRecord, by actor: AuditActor) async throws
    /// The token with this secret hash, if any (active or not; the caller decides).
    func find(secretHash: String) async throws -> TokenRecord?
    func find(id: String) async throws -> TokenRecord?
    func list(after cursor: String?, limit: Int) async throws -> [TokenRecord]
    /// The tokens scoped to one account, newest first.
    func list(customerID: String) async throws -> [TokenRecord]
    func revoke(_ id: String, at: Date, by actor: AuditActor) async throws -> TokenRecord
    /// True when an admin token is active at `date` (not revoked, not expired): a start makes a first admin token
    /// only when none is.
    func anyActiveAdmin(at date: Date) async throws -> Bool
}

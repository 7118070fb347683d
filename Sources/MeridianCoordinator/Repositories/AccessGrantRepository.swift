import Foundation

/// Permission a customer gave to support to read its account, until `expiresAt`.
public struct AccessGrantRecord: Sendable, Hashable {
    public var id: String
    public var customerID: String
    public var role: String
    public var reason: String
    public var createdAt: Date
    public var createdBy: String
    public var expiresAt: Date
    public var revokedAt: Date?

    public func isActive(at date: Date) -> Bool { revokedAt == nil && expiresAt > date }
}

public protocol AccessGrantRepository: Sendable {
    func create(_ grant: AccessGrantRecord, by actor: AuditActor) async throws
    func list(customerID: String) async throws -> [AccessGrantRecord]
    func revoke(_ id: String, customerID: String, at: Date, by actor: AuditActor) async throws -> AccessGrantRecord
    /// The customers that have an active grant for `role` at `date`.
    func customersGranting(_ role: String, at date: Date) async throws -> Set<String>
}

import Foundation
import SQLKit

/// ``AccessGrantRepository`` in SQL.
public struct SQLAccessGrantRepository: AccessGrantRepository {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func create(_ grant: AccessGrantRecord, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO access_grants (id, customer_id, role, reason, created_at, created_by, expires_at)
                VALUES (\(bind: grant.id), \(bind: grant.customerID), \(bind: grant.role), \(bind: grant.reason),
                    \(bind: Timestamp.millis(grant.createdAt)), \(bind: grant.createdBy), \(bind: Timestamp.millis(grant.expiresAt)))
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("access_grant.create", target: grant.customerID, detail: [
                    "grant_id": grant.id, "role": grant.role, "reason": grant.reason,
                    "expires_at": ISO8601DateFormatter().string(from: grant.expiresAt),
                ]), by: actor, at: grant.createdAt, on: db)
        }
    }

    public func list(customerID: String) async throws -> [AccessGrantRecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM access_grants WHERE customer_id = \(bind: customerID) ORDER BY id DESC").all().map(Self.decode)
        }
    }

    public func revoke(_ id: String, customerID: String, at date: Date, by actor: AuditActor) async throws -> AccessGrantRecord {
        try await store.transaction { db in
            guard var grant = try await db.raw("SELECT * FROM access_grants WHERE id = \(bind: id) AND customer_id = \(bind: customerID)")
                .first().map(Self.decode)
            else { throw RepositoryError.notFound(id) }
            if grant.revokedAt == nil {
                try await db.raw("UPDATE access_grants SET revoked_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)").run()
                try await SQLAuditLog.append(
                    AuditEvent("access_grant.revoke", target: customerID, detail: ["grant_id": id]), by: actor, at: date, on: db)
                grant.revokedAt = Timestamp.date(Timestamp.millis(date))
            }
            return grant
        }
    }

    public func customersGranting(_ role: String, at date: Date) async throws -> Set<String> {
        try await store.withSession { db in
            Set(try await db.raw("""
                SELECT DISTINCT customer_id FROM access_grants
                WHERE role = \(bind: role) AND revoked_at IS NULL AND expires_at > \(bind: Timestamp.millis(date))
                """).all().map { try $0.decode(column: "customer_id", as: String.self) })
        }
    }

    static func decode(_ row: any SQLRow) throws -> AccessGrantRecord {
        AccessGrantRecord(
            id: try row.decode(column: "id", as: String.self),
            customerID: try row.decode(column: "customer_id", as: String.self),
            role: try row.decode(column: "role", as: String.self),
            reason: try row.decode(column: "reason", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try row.decode(column: "created_by", as: String.self),
            expiresAt: Timestamp.date(try row.decode(column: "expires_at", as: Int64.self)),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Timestamp.date))
    }
}

import Foundation
import MeridianCore
import SQLKit

/// ``TokenRepository`` in SQL.
public struct SQLTokenRepository: TokenRepository {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func create(_ token: TokenRecord, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO tokens (id, name, role, customer_id, secret_hash, created_at, created_by, expires_at)
                VALUES (\(bind: token.id), \(bind: token.name), \(bind: token.role.rawValue), \(bind: token.customerID),
                    \(bind: token.secretHash), \(bind: Timestamp.millis(token.createdAt)), \(bind: token.createdBy),
                    \(bind: token.expiresAt.map(Timestamp.millis)))
                """).run()
            var detail = ["name": token.name, "role": token.role.rawValue]
            if let customer = token.customerID { detail["customer_id"] = customer }
            if let expiry = token.expiresAt { detail["expires_at"] = ISO8601DateFormatter().string(from: expiry) }
            try await SQLAuditLog.append(AuditEvent("token.create", target: token.id, detail: detail), by: actor, at: token.createdAt, on: db)
        }
    }

    public func find(secretHash: String) async throws -> TokenRecord? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM tokens WHERE secret_hash = \(bind: secretHash)").first().map(Self.decode)
        }
    }

    public func find(id: String) async throws -> TokenRecord? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM tokens WHERE id = \(bind: id)").first().map(Self.decode)
        }
    }

    public func list(after cursor: String?, limit: Int) async throws -> [TokenRecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM tokens WHERE id > \(bind: cursor ?? "") ORDER BY id LIMIT \(bind: limit)").all().map(Self.decode)
        }
    }

    public func list(customerID: String) async throws -> [TokenRecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM tokens WHERE customer_id = \(bind: customerID) ORDER BY id DESC").all().map(Self.decode)
        }
    }

    public func revoke(_ id: String, at date: Date, by actor: AuditActor) async throws -> TokenRecord {
        try await store.transaction { db in
            guard let token = try await db.raw("SELECT * FROM tokens WHERE id = \(bind: id)").first().map(Self.decode) else {
                throw RepositoryError.notFound(id)
            }
            guard token.revokedAt == nil else { throw RepositoryError.conflict("token \(id) is already revoked") }
            try await db.raw("UPDATE tokens SET revoked_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)").run()
            try await SQLAuditLog.append(AuditEvent("token.revoke", target: id, detail: ["name": token.name, "role": token.role.rawValue]), by: actor, at: date, on: db)
            var revoked = token
            revoked.revokedAt = Timestamp.date(Timestamp.millis(date))
            return revoked
        }
    }

    public func anyActiveAdmin(at date: Date) async throws -> Bool {
        try await store.withSession { db in
            try await db.raw("""
                SELECT id FROM tokens WHERE role = 'admin' AND revoked_at IS NULL
                    AND (expires_at IS NULL OR expires_at > \(bind: Timestamp.millis(date))) LIMIT 1
                """).first() != nil
        }
    }

    static func decode(_ row: any SQLRow) throws -> TokenRecord {
        TokenRecord(
            id: try row.decode(column: "id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .customer,
            customerID: try row.decode(column: "customer_id", as: String?.self),
            secretHash: try row.decode(column: "secret_hash", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try row.decode(column: "created_by", as: String.self),
            expiresAt: try row.decode(column: "expires_at", as: Int64?.self).map(Timestamp.date),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Timestamp.date))
    }
}

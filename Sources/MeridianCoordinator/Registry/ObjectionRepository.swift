import Foundation
import MeridianCore
import SQLKit

public struct ObjectionRepository: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func create(_ objection: Objection, by actor: AuditActor) async throws {
        try await store.transaction { db in
            if try await db.raw("""
                SELECT id FROM objections WHERE customer_id = \(bind: objection.customerID)
                    AND subprocessor_id = \(bind: objection.subprocessorID) AND withdrawn_at IS NULL
                """).first() != nil {
                throw RepositoryError.conflict("\(objection.customerID) already objects to \(objection.subprocessorID)")
            }
            try await db.raw("""
                INSERT INTO objections (id, customer_id, subprocessor_id, reason, created_at, created_by)
                VALUES (\(bind: objection.id), \(bind: objection.customerID), \(bind: objection.subprocessorID), \(bind: objection.reason),
                    \(bind: Timestamp.millis(objection.createdAt)), \(bind: objection.createdBy))
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("objection.create", target: objection.customerID, detail: ["objection": objection.id, "subprocessor": objection.subprocessorID]),
                by: actor, at: objection.createdAt, on: db)
        }
    }

    public func withdraw(_ id: String, of customerID: String, at date: Date, by actor: AuditActor) async throws -> Objection {
        try await store.transaction { db in
            guard var objection = try await db.raw("SELECT * FROM objections WHERE id = \(bind: id) AND customer_id = \(bind: customerID)")
                .first().map(Self.decode)
            else { throw RepositoryError.notFound(id) }
            guard objection.withdrawnAt == nil else { return objection }
            objection.withdrawnAt = Timestamp.date(Timestamp.millis(date))
            try await db.raw("UPDATE objections SET withdrawn_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)").run()
            try await SQLAuditLog.append(
                AuditEvent("objection.withdraw", target: customerID, detail: ["objection": id, "subprocessor": objection.subprocessorID]),
                by: actor, at: date, on: db)
            return objection
        }
    }

    public func list(customerID: String) async throws -> [Objection] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM objections WHERE customer_id = \(bind: customerID) ORDER BY created_at DESC, id DESC").all()
                .map(Self.decode)
        }
    }

    /// Standing objections by customer: what the config compiler enforces.
    public func standing() async throws -> [String: Set<String>] {
        try await store.withSession { db in
            var result: [String: Set<String>] = [:]
            for row in try await db.raw("SELECT customer_id, subprocessor_id FROM objections WHERE withdrawn_at IS NULL").all() {
                result[try row.decode(column: "customer_id", as: String.self), default: []].insert(try row.decode(column: "subprocessor_id", as: String.self))
            }
            return result
        }
    }

    static func decode(_ row: any SQLRow) throws -> Objection {
        Objection(
            id: try row.decode(column: "id", as: String.self), customerID: try row.decode(column: "customer_id", as: String.self),
            subprocessorID: try row.decode(column: "subprocessor_id", as: String.self), reason: try row.decode(column: "reason", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)), createdBy: try row.decode(column: "created_by", as: String.self),
            withdrawnAt: try row.decode(column: "withdrawn_at", as: Int64?.self).map(Timestamp.date))
    }
}

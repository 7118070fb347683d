import Foundation
import MeridianCore
import SQLKit

/// The legal-request log in SQL. Every change is audited in its transaction; the log is what transparency
/// reports count and what a canary must not contradict.
public struct LegalRequestRepository: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func create(_ request: LegalRequest, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO legal_requests (id, received_on, authority, country, kind, accounts_affected, outcome, gag_until, notes,
                    created_at, created_by, updated_at, customer_ids)
                VALUES (\(bind: request.id), \(bind: request.receivedOn.description), \(bind: request.authority), \(bind: request.country),
                    \(bind: request.kind.rawValue), \(bind: Int64(request.accountsAffected)), \(bind: request.outcome.rawValue),
                    \(bind: request.gagUntil?.description), \(bind: request.notes), \(bind: Timestamp.millis(request.createdAt)),
                    \(bind: request.createdBy), \(bind: Timestamp.millis(request.updatedAt)), \(bind: request.customerIDs.joined(separator: " ")))
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("legal_request.create", target: request.id, detail: [
                    "kind": request.kind.rawValue, "country": request.country, "received_on": request.receivedOn.description,
                    "outcome": request.outcome.rawValue, "customer_ids": request.customerIDs.joined(separator: " "),
                ]), by: actor, at: request.createdAt, on: db)
        }
    }

    public func find(_ id: String) async throws -> LegalRequest? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM legal_requests WHERE id = \(bind: id)").first().map(Self.decode)
        }
    }

    /// Newest received first (then by id), after `cursor` (an id from the previous page).
    public func list(after cursor: String?, limit: Int) async throws -> [LegalRequest] {
        try await store.withSession { db in
            // Keyset paging on (received_on, id): the page after the cursor's row, in the same order.
            var after: String?
            if let cursor {
                after = try await db.raw("SELECT received_on FROM legal_requests WHERE id = \(bind: cursor)").first()?
                    .decode(column: "received_on", as: String.self)
            }
            let rows: [any SQLRow]
            if let cursor, let after {
                rows = try await db.raw("""
                    SELECT * FROM legal_requests
                    WHERE received_on < \(bind: after) OR (received_on = \(bind: after) AND id < \(bind: cursor))
                    ORDER BY received_on DESC, id DESC LIMIT \(bind: limit)
                    """).all()
            } else {
                rows = try await db.raw("SELECT * FROM legal_requests ORDER BY received_on DESC, id DESC LIMIT \(bind: limit)").all()
            }
            return try rows.map(Self.decode)
        }
    }

    /// Every request received from `from` to `through`, both included (either open-ended when nil): what a report
    /// counts and what a canary must not contradict.
    public func received(from: CalendarDay? = nil, through: CalendarDay? = nil) async throws -> [LegalRequest] {
        try await store.withSession { db in
            var query = db.select().column("*").from("legal_requests")
            if let from { query = query.where("received_on", .greaterThanOrEqual, from.description) }
            if let through { query = query.where("received_on", .lessThanOrEqual, through.description) }
            return try await query.orderBy("received_on").orderBy("id").all().map(Self.decode)
        }
    }

    public func update(_ id: String, _ changes: LegalRequestChanges, at date: Date, by actor: AuditActor) async throws -> LegalRequest {
        try await store.transaction { db in
            guard var request = try await db.raw("SELECT * FROM legal_requests WHERE id = \(bind: id)").first().map(Self.decode) else {
                throw RepositoryError.notFound(id)
            }
            var detail: [String: String] = [:]
            if let count = changes.accountsAffected, count != request.accountsAffected {
                request.accountsAffected = count
                detail["accounts_affected"] = "\(count)"
            }
            if let outcome = changes.outcome, outcome != request.outcome {
                request.outcome = outcome
                detail["outcome"] = outcome.rawValue
            }
            if let gag = changes.gagUntil, gag != request.gagUntil {
                request.gagUntil = gag
                detail["gag_until"] = gag.description
            }
            if let ids = changes.customerIDs, ids != request.customerIDs {
                request.customerIDs = ids
                detail["customer_ids"] = ids.joined(separator: " ")
            }
            if let notes = changes.notes, notes != request.notes {
                request.notes = notes
                detail["notes"] = "changed"
            }
            guard !detail.isEmpty else { return request }
            request.updatedAt = Timestamp.date(Timestamp.millis(date))
            try await db.raw("""
                UPDATE legal_requests SET accounts_affected = \(bind: Int64(request.accountsAffected)), outcome = \(bind: request.outcome.rawValue),
                    gag_until = \(bind: request.gagUntil?.description), notes = \(bind: request.notes), updated_at = \(bind: Timestamp.millis(date)),
                    customer_ids = \(bind: request.customerIDs.joined(separator: " "))
                WHERE id = \(bind: id)
                """).run()
            try await SQLAuditLog.append(AuditEvent("legal_request.update", target: id, detail: detail), by: actor, at: date, on: db)
            return request
        }
    }

    static func decode(_ row: any SQLRow) throws -> LegalRequest {
        func day(_ column: String) throws -> CalendarDay? {
            try row.decode(column: column, as: String?.self).flatMap(CalendarDay.init)
        }
        guard let received = try day("received_on"),
            let kind = LegalRequestKind(rawValue: try row.decode(column: "kind", as: String.self)),
            let outcome = LegalRequestOutcome(rawValue: try row.decode(column: "outcome", as: String.self))
        else { throw RepositoryError.conflict("a legal request row does not decode") }
        var request = LegalRequest(
            id: try row.decode(column: "id", as: String.self), receivedOn: received, authority: try row.decode(column: "authority", as: String.self),
            country: try row.decode(column: "country", as: String.self), kind: kind,
            accountsAffected: Int(try row.decode(column: "accounts_affected", as: Int64.self)), outcome: outcome,
            gagUntil: try day("gag_until"), notes: try row.decode(column: "notes", as: String?.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try row.decode(column: "created_by", as: String.self),
            updatedAt: Timestamp.date(try row.decode(column: "updated_at", as: Int64.self)))
        request.customerIDs = (try row.decode(column: "customer_ids", as: String?.self) ?? "").split(separator: " ").map(String.init)
        return request
    }

    /// The holds of every open request: the accounts whose data no erasure removes while it stands.
    public func openHolds() async throws -> [LegalHold] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM legal_requests WHERE outcome IN ('pending', 'challenged') ORDER BY id").all().map(Self.decode)
        }.flatMap(\.holds)
    }
}

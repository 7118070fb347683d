import Foundation
import MeridianCore
import SQLKit

/// Tickets and their identity checks in SQL. Every change of state is audited in its transaction.
public struct DataSubjectRequestRepository: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    /// Stores a new ticket; with `code`, also the code's hash and its notice in the outbox (sealed), and the ticket
    /// starts in `identity_pending`.
    public func create(
        _ ticket: DataSubjectRequestRecord, code: (verification: PendingVerification, notice: Notification)?, by actor: AuditActor
    ) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO gdpr_requests (id, type, regulation, subject_kind, subject, state, received_at, due_at, extended, notes, created_by,
                    updated_at, verification_method, state_reason)
                VALUES (\(bind: ticket.id), \(bind: ticket.type.rawValue), \(bind: ticket.regulation.rawValue), \(bind: ticket.subject.kind),
                    \(bind: ticket.subject.value), \(bind: ticket.state.rawValue), \(bind: Timestamp.millis(ticket.receivedAt)),
                    \(bind: Timestamp.millis(ticket.dueAt)), 0, \(bind: ticket.notes), \(bind: ticket.createdBy), \(bind: Timestamp.millis(ticket.updatedAt)),
                    \(bind: ticket.verificationMethod), \(bind: ticket.stateReason))
                """).run()
            if let code {
                try await Self.storeCode(code.verification, for: ticket.id, at: ticket.receivedAt, on: db)
                try await NotificationOutbox.insert(code.notice, on: db)
            }
            try await SQLAuditLog.append(
                AuditEvent("gdpr_request.create", target: ticket.id, detail: [
                    "type": ticket.type.rawValue, "regulation": ticket.regulation.rawValue, "subject_kind": ticket.subject.kind,
                    "state": ticket.state.rawValue, "due_at": ISOTime.string(ticket.dueAt),
                ]), by: actor, at: ticket.receivedAt, on: db)
        }
    }

    public func find(_ id: String) async throws -> DataSubjectRequestRecord? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM gdpr_requests WHERE id = \(bind: id)").first().map(Self.decode)
        }
    }

    public func verification(of id: String) async throws -> PendingVerification? {
        try await store.withSession { db in try await Self.verification(of: id, on: db) }
    }

    /// Newest first; `open` keeps tickets not yet closed, `overdueAt` those open past their deadline at that time.
    public func list(open: Bool = false, overdueAt: Date? = nil, limit: Int = 200) async throws -> [DataSubjectRequestRecord] {
        try await store.withSession { db in
            var query = "SELECT * FROM gdpr_requests"
            if open || overdueAt != nil { query += " WHERE state NOT IN (\(Self.closedStates))" }
            if let overdueAt { query += " AND due_at < \(Timestamp.millis(overdueAt))" }
            query += " ORDER BY received_at DESC, id DESC LIMIT \(max(1, min(limit, 1000)))"
            return try await db.raw(SQLQueryString(query)).all().map(Self.decode)
        }
    }

    /// The closed states as an SQL list, for `state NOT IN (...)`.
    static let closedStates = DataSubjectRequestState.allCases.filter(\.isClosed).map { "'\($0.rawValue)'" }.joined(separator: ", ")

    /// How many tickets are open, and how many of those are past their deadline at `date`.
    public func openCounts(at date: Date) async throws -> (open: Int, overdue: Int) {
        return try await store.withSession { db in
            let row = try await db.raw("""
                SELECT count(*) AS open, coalesce(sum(CASE WHEN due_at < \(bind: Timestamp.millis(date)) THEN 1 ELSE 0 END), 0) AS overdue
                FROM gdpr_requests WHERE state NOT IN (\(unsafeRaw: Self.closedStates))
                """).first()
            return (Int(try row?.decode(column: "open", as: Int64.self) ?? 0), Int(try row?.decode(column: "overdue", as: Int64.self) ?? 0))
        }
    }

    /// Moves a ticket to `state` if its current state allows it.
    public func transition(
        _ id: String, to state: DataSubjectRequestState, reason: String?, verificationMethod: String? = nil, at date: Date, by actor: AuditActor
    ) async throws -> DataSubjectRequestRecord {
        try await store.transaction { db in
            guard var ticket = try await db.raw("SELECT * FROM gdpr_requests WHERE id = \(bind: id)").first().map(Self.decode) else {
                throw DataSubjectRequestError.notFound(id)
            }
            guard ticket.state.canMove(to: state) else { throw DataSubjectRequestError.transition(from: ticket.state, to: state) }
            try await Self.move(&ticket, to: state, reason: reason, verificationMethod: verificationMethod, at: date, by: actor, on: db)
            return ticket
        }
    }

    /// Checks a code the subject gave. A wrong code counts an attempt; an expired code, or one tried too often,
    /// is refused whatever it is. The right code moves the ticket to `verified`.
    public func verify(_ id: String, code: String, at date: Date, by actor: AuditActor) async throws -> DataSubjectRequestRecord {
        let outcome: Result<DataSubjectRequestRecord, DataSubjectRequestError> = try await store.transaction { db in
            guard var ticket = try await db.raw("SELECT * FROM gdpr_requests WHERE id = \(bind: id)").first().map(Self.decode) else {
                return .failure(.notFound(id))
            }
            guard ticket.state == .identityPending else {
                return .failure(ticket.state == .received ? .noCodeSent : .alreadyVerified(ticket.state))
            }
            guard let pending = try await Self.verification(of: id, on: db) else { return .failure(.noCodeSent) }
            guard pending.expiresAt > date else { return .failure(.codeExpired(pending.expiresAt)) }
            guard pending.attemptsLeft > 0 else { return .failure(.tooManyAttempts) }
            guard VerificationCode.matches(code, requestID: id, hash: pending.codeHash) else {
                // The failed attempt is kept (and audited) even though the request fails.
                try await db.raw("UPDATE gdpr_verifications SET attempts = attempts + 1 WHERE request_id = \(bind: id)").run()
                try await SQLAuditLog.append(
                    AuditEvent("gdpr_request.verify_failed", target: id, detail: ["attempts": "\(pending.attempts + 1)"]), by: actor, at: date, on: db)
                return .failure(.wrongCode(attemptsLeft: pending.attemptsLeft - 1))
            }
            try await Self.move(&ticket, to: .verified, reason: nil, verificationMethod: "code", at: date, by: actor, on: db)
            return .success(ticket)
        }
        return try outcome.get()
    }

    /// Moves the deadline once, with a reason.
    public func extend(_ id: String, until: Date, reason: String, at date: Date, by actor: AuditActor) async throws -> DataSubjectRequestRecord {
        try await store.transaction { db in
            guard var ticket = try await db.raw("SELECT * FROM gdpr_requests WHERE id = \(bind: id)").first().map(Self.decode) else {
                throw DataSubjectRequestError.notFound(id)
            }
            guard !ticket.state.isClosed else { throw DataSubjectRequestError.closed(ticket.state) }
            guard !ticket.extended else { throw DataSubjectRequestError.alreadyExtended }
            let previous = ticket.dueAt
            ticket.dueAt = until
            ticket.extended = true
            ticket.extensionReason = reason
            ticket.updatedAt = date
            try await db.raw("""
                UPDATE gdpr_requests SET due_at = \(bind: Timestamp.millis(until)), extended = 1, extension_reason = \(bind: reason),
                    updated_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("gdpr_request.extend", target: id, detail: [
                    "from": ISOTime.string(previous), "to": ISOTime.string(until), "reason": reason,
                ]), by: actor, at: date, on: db)
            return ticket
        }
    }

    static func move(
        _ ticket: inout DataSubjectRequestRecord, to state: DataSubjectRequestState, reason: String?, verificationMethod: String?, at date: Date,
        by actor: AuditActor, on db: any SQLDatabase
    ) async throws {
        let from = ticket.state
        ticket.state = state
        ticket.updatedAt = Timestamp.date(Timestamp.millis(date))
        if let reason { ticket.stateReason = reason }
        if let verificationMethod { ticket.verificationMethod = verificationMethod }
        if state.isClosed { ticket.closedAt = ticket.updatedAt }
        try await db.raw("""
            UPDATE gdpr_requests SET state = \(bind: state.rawValue), state_reason = \(bind: ticket.stateReason),
                verification_method = \(bind: ticket.verificationMethod), updated_at = \(bind: Timestamp.millis(date)),
                closed_at = \(bind: ticket.closedAt.map(Timestamp.millis)) WHERE id = \(bind: ticket.id)
            """).run()
        var detail = ["from": from.rawValue, "to": state.rawValue]
        if let reason { detail["reason"] = reason }
        if let verificationMethod { detail["verification"] = verificationMethod }
        try await SQLAuditLog.append(AuditEvent("gdpr_request.transition", target: ticket.id, detail: detail), by: actor, at: date, on: db)
        if state != .identityPending {
            // A code still waiting (verified by another proof, or the ticket closed) is no use any more.
            try await db.raw("DELETE FROM gdpr_verifications WHERE request_id = \(bind: ticket.id)").run()
        }
    }

    static func storeCode(_ verification: PendingVerification, for id: String, at date: Date, on db: any SQLDatabase) async throws {
        try await db.raw("DELETE FROM gdpr_verifications WHERE request_id = \(bind: id)").run()
        try await db.raw("""
            INSERT INTO gdpr_verifications (request_id, code_hash, sent_to, expires_at, attempts, created_at)
            VALUES (\(bind: id), \(bind: verification.codeHash), \(bind: verification.sentTo), \(bind: Timestamp.millis(verification.expiresAt)),
                \(bind: Int64(verification.attempts)), \(bind: Timestamp.millis(date)))
            """).run()
    }

    static func verification(of id: String, on db: any SQLDatabase) async throws -> PendingVerification? {
        try await db.raw("SELECT * FROM gdpr_verifications WHERE request_id = \(bind: id)").first().map { row in
            PendingVerification(
                codeHash: try row.decode(column: "code_hash", as: String.self), sentTo: try row.decode(column: "sent_to", as: String.self),
                expiresAt: Timestamp.date(try row.decode(column: "expires_at", as: Int64.self)),
                attempts: Int(try row.decode(column: "attempts", as: Int64.self)))
        }
    }

    static func decode(_ row: any SQLRow) throws -> DataSubjectRequestRecord {
        let kind = try row.decode(column: "subject_kind", as: String.self)
        let value = try row.decode(column: "subject", as: String.self)
        guard let type = DataSubjectRequestType(rawValue: try row.decode(column: "type", as: String.self)),
            let regulation = Regulation(rawValue: try row.decode(column: "regulation", as: String.self)),
            let state = DataSubjectRequestState(rawValue: try row.decode(column: "state", as: String.self))
        else { throw RepositoryError.conflict("a data-subject request row does not decode") }
        return DataSubjectRequestRecord(
            id: try row.decode(column: "id", as: String.self), type: type, regulation: regulation,
            subject: kind == "customer" ? .customer(value) : .email(value), state: state,
            receivedAt: Timestamp.date(try row.decode(column: "received_at", as: Int64.self)),
            dueAt: Timestamp.date(try row.decode(column: "due_at", as: Int64.self)),
            extended: try row.decode(column: "extended", as: Int64.self) != 0, extensionReason: try row.decode(column: "extension_reason", as: String?.self),
            verificationMethod: try row.decode(column: "verification_method", as: String?.self),
            stateReason: try row.decode(column: "state_reason", as: String?.self), notes: try row.decode(column: "notes", as: String?.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            updatedAt: Timestamp.date(try row.decode(column: "updated_at", as: Int64.self)),
            closedAt: try row.decode(column: "closed_at", as: Int64?.self).map(Timestamp.date))
    }
}

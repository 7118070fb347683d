import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

extension AdminAPI {
    func createLegalRequest(_ request: Operations.CreateLegalRequest.Input) async throws -> Operations.CreateLegalRequest.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let received = try Self.day(body.receivedOn, field: "received_on")
        let today = CalendarDay(containing: now())
        guard received >= CalendarDay("1970-01-01")!, received <= today else {
            throw Problem.invalid("received_on", "received_on \(received) must be a day from 1970-01-01 to today (\(today))")
        }
        let authority = body.authority.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !authority.isEmpty else { throw Problem.invalid("authority", "authority must name who sent the request") }
        guard body.country.utf8.count == 2, body.country.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else {
            throw Problem.invalid("country", "country \"\(body.country)\" must be an ISO 3166-1 alpha-2 code in capitals, such as DE or US")
        }
        let accounts = try Self.accounts(body.accountsAffected ?? 0)
        let gag = try body.gagUntil.map { try Self.day($0, field: "gag_until") }
        if let gag, gag < received {
            throw Problem.invalid("gag_until", "gag_until \(gag) is before the request was received (\(received))")
        }
        let customerIDs = try await heldAccounts(body.customerIds)
        let date = now()
        let caller = try caller
        var record = LegalRequest(
            id: ResourceID.make(prefix: "lrq", at: date), receivedOn: received, authority: authority, country: body.country,
            kind: LegalRequestKind(rawValue: body.kind.rawValue) ?? .courtOrder, accountsAffected: accounts,
            outcome: body.outcome.flatMap { LegalRequestOutcome(rawValue: $0.rawValue) } ?? .pending, gagUntil: gag, notes: body.notes,
            createdAt: date, createdBy: caller.token.id, updatedAt: date)
        record.customerIDs = customerIDs ?? []
        try await legalRequests.create(record, by: caller.actor)
        return .created(.init(body: .json(.init(try await legalRequest(record.id)))))
    }

    func listLegalRequests(_ request: Operations.ListLegalRequests.Input) async throws -> Operations.ListLegalRequests.Output {
        let limit = try pageLimit(request.query.limit)
        let page = try await legalRequests.list(after: request.query.cursor, limit: limit + 1)
        let items = Array(page.prefix(limit))
        if !items.isEmpty {
            try await audit.record(
                AuditEvent("legal_request.list", target: "", detail: ["count": "\(items.count)"]), by: try caller.actor, at: now())
        }
        return .ok(.init(body: .json(.init(items: items.map(Components.Schemas.LegalRequest.init), nextCursor: page.count > limit ? items.last?.id : nil))))
    }

    func getLegalRequest(_ request: Operations.GetLegalRequest.Input) async throws -> Operations.GetLegalRequest.Output {
        let record = try await legalRequest(request.path.requestId)
        try await audit.record(AuditEvent("legal_request.read", target: record.id), by: try caller.actor, at: now())
        return .ok(.init(body: .json(.init(record))))
    }

    func updateLegalRequest(_ request: Operations.UpdateLegalRequest.Input) async throws -> Operations.UpdateLegalRequest.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let existing = try await legalRequest(request.path.requestId)
        var changes = LegalRequestChanges()
        changes.accountsAffected = try body.accountsAffected.map(Self.accounts)
        changes.outcome = body.outcome.flatMap { LegalRequestOutcome(rawValue: $0.rawValue) }
        changes.gagUntil = try body.gagUntil.map { try Self.day($0, field: "gag_until") }
        if let gag = changes.gagUntil, gag < existing.receivedOn {
            throw Problem.invalid("gag_until", "gag_until \(gag) is before the request was received (\(existing.receivedOn))")
        }
        changes.notes = body.notes
        changes.customerIDs = try await heldAccounts(body.customerIds)
        let updated = try await legalRequests.update(existing.id, changes, at: now(), by: try caller.actor)
        return .ok(.init(body: .json(.init(updated))))
    }

    func legalRequest(_ id: String) async throws -> LegalRequest {
        guard let record = try await legalRequests.find(id) else { throw Problem.notFound("no legal request with id \(id)") }
        return record
    }

    /// The accounts a legal request holds: each must be a customer that exists.
    func heldAccounts(_ ids: [String]?) async throws -> [String]? {
        guard let ids else { return nil }
        guard ids.count <= 1000 else { throw Problem.invalid("customer_ids", "customer_ids names at most 1000 accounts") }
        for id in ids where try await customers.find(id) == nil {
            throw Problem.invalid("customer_ids", "customer_ids names \"\(id)\", which is not a customer")
        }
        return Array(Set(ids)).sorted()
    }

    static func accounts(_ count: Int) throws -> Int {
        guard (0...1_000_000_000).contains(count) else {
            throw Problem.invalid("accounts_affected", "accounts_affected must be from 0 to 1000000000, not \(count)")
        }
        return count
    }

    static func day(_ text: String, field: String) throws -> CalendarDay {
        guard let day = CalendarDay(text) else {
            throw Problem.invalid(field, "\(field) \"\(text)\" is not a date such as 2026-11-24")
        }
        return day
    }
}

extension Components.Schemas.LegalRequest {
    init(_ record: LegalRequest) {
        self.init(
            id: record.id, receivedOn: record.receivedOn.description, authority: record.authority, country: record.country,
            kind: .init(rawValue: record.kind.rawValue) ?? .courtOrder, canaryCode: record.kind.canaryCode?.rawValue,
            accountsAffected: record.accountsAffected, outcome: .init(rawValue: record.outcome.rawValue) ?? .pending,
            gagUntil: record.gagUntil?.description, notes: record.notes, customerIds: record.customerIDs, createdAt: record.createdAt,
            createdBy: record.createdBy, updatedAt: record.updatedAt)
    }
}

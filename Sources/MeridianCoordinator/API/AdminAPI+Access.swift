import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

extension AdminAPI {
    // MARK: - Tokens

    func createToken(_ request: Operations.CreateToken.Input) async throws -> Operations.CreateToken.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let caller = try caller
        guard let role = Role(rawValue: body.role.rawValue) else { throw Problem.invalid("role", "unknown role") }
        let name = try input.name(body.name)
        switch (role, body.customerId) {
        case (.customer, nil):
            throw Problem.invalid("customer_id", "a customer token needs customer_id, the account it is scoped to")
        case (.customer, let id?):
            guard try await customers.find(id) != nil else { throw Problem.invalid("customer_id", "no customer with id \(id)") }
        case (_, .some):
            throw Problem.invalid("customer_id", "only customer tokens are scoped to an account; leave customer_id out for \(role.rawValue)")
        default:
            break
        }
        if let days = body.expiresInDays, !(1...3650).contains(days) {
            throw Problem.invalid("expires_in_days", "expires_in_days must be from 1 to 3650, not \(days)")
        }
        let date = now()
        let secret = BearerToken.generate()
        let record = TokenRecord(
            id: ResourceID.make(prefix: "tok", at: date), name: name, role: role, customerID: body.customerId,
            secretHash: secret.hash, createdAt: date, createdBy: caller.token.id,
            expiresAt: body.expiresInDays.map { date.addingTimeInterval(Double($0) * 86_400) }, revokedAt: nil)
        try await tokens.create(record, by: caller.actor)
        return .created(.init(body: .json(.init(token: .init(record), secret: secret.secret))))
    }

    func listTokens(_ request: Operations.ListTokens.Input) async throws -> Operations.ListTokens.Output {
        let limit = try pageLimit(request.query.limit)
        let page = try await tokens.list(after: request.query.cursor, limit: limit + 1)
        let items = Array(page.prefix(limit))
        return .ok(.init(body: .json(.init(items: items.map(Components.Schemas.Token.init), nextCursor: page.count > limit ? items.last?.id : nil))))
    }

    func revokeToken(_ request: Operations.RevokeToken.Input) async throws -> Operations.RevokeToken.Output {
        let id = request.path.tokenId
        guard try await tokens.find(id: id) != nil else { throw Problem.notFound("no token with id \(id)") }
        let revoked = try await tokens.revoke(id, at: now(), by: try caller.actor)
        return .ok(.init(body: .json(.init(revoked))))
    }

    // MARK: - Support access grants

    func createAccessGrant(_ request: Operations.CreateAccessGrant.Input) async throws -> Operations.CreateAccessGrant.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let record = try await customer(request.path.customerId)
        guard let reason = try input.reason(body.reason) else { throw Problem.invalid("reason", "reason must not be empty") }
        let hours = body.durationHours ?? 24
        guard (1...720).contains(hours) else {
            throw Problem.invalid("duration_hours", "duration_hours must be from 1 to 720 (30 days), not \(hours)")
        }
        let caller = try caller
        let date = now()
        let grant = AccessGrantRecord(
            id: ResourceID.make(prefix: "grt", at: date), customerID: record.id, role: Role.support.rawValue, reason: reason,
            createdAt: date, createdBy: caller.token.id, expiresAt: date.addingTimeInterval(Double(hours) * 3600), revokedAt: nil)
        try await grants.create(grant, by: caller.actor)
        return .created(.init(body: .json(.init(grant, now: date))))
    }

    func listAccessGrants(_ request: Operations.ListAccessGrants.Input) async throws -> Operations.ListAccessGrants.Output {
        let record = try await customer(request.path.customerId)
        let date = now()
        return .ok(.init(body: .json(try await grants.list(customerID: record.id).map { .init($0, now: date) })))
    }

    func revokeAccessGrant(_ request: Operations.RevokeAccessGrant.Input) async throws -> Operations.RevokeAccessGrant.Output {
        let record = try await customer(request.path.customerId)
        let date = now()
        do {
            let grant = try await grants.revoke(request.path.grantId, customerID: record.id, at: date, by: try caller.actor)
            return .ok(.init(body: .json(.init(grant, now: date))))
        } catch RepositoryError.notFound {
            throw Problem.notFound("customer \(record.id) has no access grant \(request.path.grantId)")
        }
    }

    // MARK: - Audit log

    func listAuditEntries(_ request: Operations.ListAuditEntries.Input) async throws -> Operations.ListAuditEntries.Output {
        let after = request.query.after ?? 0
        guard after >= 0 else { throw Problem.invalid("after", "after must be 0 or more, not \(after)") }
        let limit = try pageLimit(request.query.limit, maximum: 1000, default: 100)
        let entries = try await audit.entries(after: after, limit: limit)
        let next = entries.count == limit ? entries.last?.sequence : nil
        return .ok(.init(body: .json(.init(items: entries.map(Components.Schemas.AuditEntry.init), nextAfter: next))))
    }
}

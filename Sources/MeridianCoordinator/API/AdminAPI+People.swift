import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

/// The people who sign in to a customer's dashboard: invitations, the list, removal.
extension AdminAPI {
    func createInvitation(_ request: Operations.CreateInvitation.Input) async throws -> Operations.CreateInvitation.Output {
        guard case .json(let body) = request.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        let record = try await customer(request.path.customerId)
        let role = body.role.flatMap { AccountUser.Role(rawValue: $0.rawValue) } ?? .member
        let (invitation, link) = try await invitations.invite(body.email, as: role, to: record, by: try caller.actor)
        return .created(.init(body: .json(.init(invitation: .init(invitation), url: link))))
    }

    func listAccountUsers(_ request: Operations.ListAccountUsers.Input) async throws -> Operations.ListAccountUsers.Output {
        let record = try await customer(request.path.customerId)
        try await recordRead("account.user.list", of: record.id)
        let users = try await people.users(record.id).map {
            Components.Schemas.AccountUser(
                id: $0.id, email: $0.email, name: $0.name, role: .init(rawValue: $0.role.rawValue) ?? .member, secondFactor: $0.hasSecondFactor,
                createdAt: $0.createdAt)
        }
        let open = try await people.openInvitations(record.id, at: now()).map(Components.Schemas.Invitation.init)
        return .ok(.init(body: .json(.init(items: users, invitations: open))))
    }

    func removeAccountUser(_ request: Operations.RemoveAccountUser.Input) async throws -> Operations.RemoveAccountUser.Output {
        let record = try await customer(request.path.customerId)
        do {
            try await people.remove(request.path.userId, of: record.id, at: now(), by: try caller.actor)
        } catch RepositoryError.notFound {
            throw Problem.notFound("customer \(record.id) has no user \(request.path.userId)")
        }
        return .noContent(.init())
    }
}

extension Components.Schemas.Invitation {
    init(_ invitation: AccountInvitation) {
        self.init(
            id: invitation.id, customerId: invitation.customerID, email: invitation.email, role: .init(rawValue: invitation.role.rawValue) ?? .member,
            createdAt: invitation.createdAt, expiresAt: invitation.expiresAt)
    }
}

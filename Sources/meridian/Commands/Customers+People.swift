import ArgumentParser
import Foundation
import MeridianAPI

extension Customers {
    /// `meridian customers invite ID --email ADDRESS`: an invitation to the account's dashboard.
    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Invite a person to sign in to the account's dashboard; prints the link once (it is also e-mailed to them).")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Option(help: "The person's e-mail address.") var email: String
        @Option(help: "owner (also invites and removes people) or member.") var role: Components.Schemas.InvitationCreate.RolePayload = .member

        func run() async throws {
            let created = try await connection.withClient {
                try await $0.createInvitation(path: .init(customerId: id), body: .json(.init(email: email, role: role))).created.body.json
            }
            if connection.json { return try printJSON(created) }
            print("invited \(created.invitation.email) to \(id) as \(created.invitation.role.rawValue), until \(ISO8601DateFormatter().string(from: created.invitation.expiresAt))")
            print("link            \(created.url)")
            print("                (shown once and e-mailed to them: it works once and lets them choose a password)")
        }
    }

    /// `meridian customers users ID`: who signs in to the account's dashboard.
    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the people who sign in to the account's dashboard, and open invitations.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String

        func run() async throws {
            let list = try await connection.withClient { try await $0.listAccountUsers(path: .init(customerId: id)).ok.body.json }
            if connection.json { return try printJSON(list) }
            let date = ISO8601DateFormatter()
            printTable(
                ["ID", "E-MAIL", "NAME", "ROLE", "2FA", "SINCE"],
                list.items.map { [$0.id, $0.email, $0.name, $0.role.rawValue, $0.secondFactor ? "on" : "off", date.string(from: $0.createdAt)] }
                    + list.invitations.map { ["(invited)", $0.email, "", $0.role.rawValue, "", "until " + date.string(from: $0.expiresAt)] })
        }
    }

    /// `meridian customers remove-user ID USER`.
    struct RemoveUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a person from the account's dashboard; their sessions end.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String
        @Argument(help: "The user id (usr_...), from 'customers users'.") var user: String

        func run() async throws {
            _ = try await connection.withClient { try await $0.removeAccountUser(path: .init(customerId: id, userId: user)).noContent }
            print("removed \(user) from \(id); their sessions have ended")
        }
    }
}

extension Customers {
    /// `meridian customers test-webhook ID`: a sample message posted now, and the endpoint's answer.
    struct TestWebhook: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Post a sample message to the account's webhook now, in its format, signed with its secret; prints the endpoint's answer.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var id: String

        func run() async throws {
            let result = try await connection.withClient { try await $0.testWebhook(path: .init(customerId: id)).ok.body.json }
            if connection.json { return try printJSON(result) }
            print("\(result.outcome.rawValue): the endpoint \(result.statusCode.map { "answered \($0)" } ?? "did not answer") in \(result.durationMs) ms (\(result.format.rawValue), \(result.webhookId))")
            if !result.answer.isEmpty { print("answer  \(result.answer)") }
            if result.outcome != .delivered { throw ExitCode(3) }
        }
    }
}

extension Components.Schemas.InvitationCreate.RolePayload: ExpressibleByArgument {}

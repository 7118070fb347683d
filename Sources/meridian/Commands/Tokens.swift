import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian tokens ...`: operator and customer bearer tokens.
struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke bearer tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; its secret is printed once.")
        @OptionGroup var connection: APIConnection
        @Option(help: "Who or what holds the token.") var name: String
        @Option(help: "admin, support, dpo, auditor or customer.") var role: Components.Schemas.Role
        @Option(help: "For a customer token: the account it is scoped to.") var customer: String?
        @Option(help: "Expire after this many days (default: never).") var expiresInDays: Int?

        func run() async throws {
            let body = Components.Schemas.TokenCreate(name: name, role: role, customerId: customer, expiresInDays: expiresInDays)
            let created = try await connection.withClient { try await $0.createToken(body: .json(body)).created.body.json }
            if connection.json { return try printJSON(created) }
            print("token \(created.token.id) (\(created.token.role.rawValue)\(created.token.customerId.map { " of \($0)" } ?? ""))")
            print(created.secret)
            print("(shown once; the coordinator keeps only its hash)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var connection: APIConnection
        @Option(help: "Page size (1-200).") var limit = 50
        @Option(help: "Continue after this cursor.") var cursor: String?

        func run() async throws {
            let page = try await connection.withClient { try await $0.listTokens(query: .init(limit: limit, cursor: cursor)).ok.body.json }
            if connection.json { return try printJSON(page) }
            printTable(
                ["ID", "NAME", "ROLE", "CUSTOMER", "EXPIRES", "REVOKED"],
                page.items.map { [$0.id, $0.name, $0.role.rawValue, $0.customerId ?? "-", iso($0.expiresAt), iso($0.revokedAt)] })
            if let next = page.nextCursor { print("more: --cursor \(next)") }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; it stops working at once.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The token id (tok_...).") var id: String

        func run() async throws {
            let token = try await connection.withClient { try await $0.revokeToken(path: .init(tokenId: id)).ok.body.json }
            if connection.json { return try printJSON(token) }
            print("revoked \(token.id) (\(token.name))")
        }
    }
}

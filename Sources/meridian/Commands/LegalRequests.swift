import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian legal-requests ...`: the log of government and law-enforcement requests (dpo and admin tokens).
struct LegalRequests: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "legal-requests", abstract: "Record, list, show and update government and law-enforcement requests.",
        subcommands: [Add.self, List.self, Show.self, Update.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a request.")
        @OptionGroup var connection: APIConnection
        @Option(help: "The day it arrived, YYYY-MM-DD.") var received: String
        @Option(help: "Who sent it.") var authority: String
        @Option(help: "The authority's country, ISO 3166-1 alpha-2 (DE, US ...).") var country: String
        @Option(help: "\(Components.Schemas.LegalRequestKind.allCases.map(\.rawValue).joined(separator: ", ")).")
        var kind: Components.Schemas.LegalRequestKind
        @Option(help: "How many accounts it concerns.") var accounts: Int = 0
        @Option(help: "Until when it may not be disclosed, YYYY-MM-DD.") var gagUntil: String?
        @Option(help: "Free text kept with the record.") var notes: String?
        @Option(name: .customLong("hold"), help: "An account it concerns (cus_...), repeatable: its data is on legal hold while the request is open.")
        var holds: [String] = []

        func run() async throws {
            let body = Components.Schemas.LegalRequestCreate(
                receivedOn: received, authority: authority, country: country, kind: kind, accountsAffected: accounts, gagUntil: gagUntil,
                notes: notes, customerIds: holds.isEmpty ? nil : holds)
            let created = try await connection.withClient { try await $0.createLegalRequest(body: .json(body)).created.body.json }
            if connection.json { return try printJSON(created) }
            printRequests([created])
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List requests, newest received first.")
        @OptionGroup var connection: APIConnection
        @Option(help: "Page size (1-200).") var limit = 50
        @Option(help: "Continue after this cursor.") var cursor: String?

        func run() async throws {
            let page = try await connection.withClient { try await $0.listLegalRequests(query: .init(limit: limit, cursor: cursor)).ok.body.json }
            if connection.json { return try printJSON(page) }
            printRequests(page.items)
            if let next = page.nextCursor { print("more: --cursor \(next)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one request.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The request id (lrq_...).") var id: String

        func run() async throws {
            let request = try await connection.withClient { try await $0.getLegalRequest(path: .init(requestId: id)).ok.body.json }
            if connection.json { return try printJSON(request) }
            printRequests([request])
            if let notes = request.notes { print("notes: \(notes)") }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record the outcome, the accounts affected or the gag period.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The request id (lrq_...).") var id: String
        @Option(help: "\(Components.Schemas.LegalRequestOutcome.allCases.map(\.rawValue).joined(separator: ", ")).")
        var outcome: Components.Schemas.LegalRequestOutcome?
        @Option(help: "How many accounts it concerns.") var accounts: Int?
        @Option(help: "Until when it may not be disclosed, YYYY-MM-DD.") var gagUntil: String?
        @Option(help: "Free text kept with the record.") var notes: String?
        @Option(name: .customLong("hold"), help: "The accounts under legal hold (cus_...), repeatable; replaces the list.")
        var holds: [String] = []
        @Flag(help: "Release every account from the hold.") var releaseHolds = false

        func run() async throws {
            guard outcome != nil || accounts != nil || gagUntil != nil || notes != nil || !holds.isEmpty || releaseHolds else {
                throw ValidationError("nothing to change: give --outcome, --accounts, --gag-until, --notes, --hold or --release-holds")
            }
            let body = Components.Schemas.LegalRequestUpdate(
                accountsAffected: accounts, outcome: outcome, gagUntil: gagUntil, notes: notes,
                customerIds: releaseHolds ? [] : holds.isEmpty ? nil : holds)
            let request = try await connection.withClient {
                try await $0.updateLegalRequest(path: .init(requestId: id), body: .json(body)).ok.body.json
            }
            if connection.json { return try printJSON(request) }
            printRequests([request])
        }
    }
}

extension Components.Schemas.LegalRequestKind: ExpressibleByArgument {}
extension Components.Schemas.LegalRequestOutcome: ExpressibleByArgument {}

private func printRequests(_ requests: [Components.Schemas.LegalRequest]) {
    printTable(
        ["ID", "RECEIVED", "KIND", "CANARY", "COUNTRY", "AUTHORITY", "ACCOUNTS", "OUTCOME", "GAG UNTIL"],
        requests.map {
            [$0.id, $0.receivedOn, $0.kind.rawValue, $0.canaryCode ?? "-", $0.country, $0.authority, "\($0.accountsAffected)",
             $0.outcome.rawValue, $0.gagUntil ?? "-"]
        })
}

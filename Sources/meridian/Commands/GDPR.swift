import ArgumentParser
import Foundation
import MeridianAPI
import OpenAPIRuntime

/// `meridian gdpr ...`: GDPR and CCPA data-subject requests (dpo and admin tokens; the auditor reads).
struct GDPR: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gdpr", abstract: "Open, verify, extend and close GDPR and CCPA data-subject requests.",
        subcommands: [Create.self, List.self, Show.self, Verify.self, Extend.self, Move.self, Export.self, VerifyReceipts.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a request; a confirmation code goes to the subject's address (or the account's contact address).")
        @OptionGroup var connection: APIConnection
        @Option(help: "\(Components.Schemas.GdprRequestType.allCases.map(\.rawValue).joined(separator: ", ")).")
        var type: Components.Schemas.GdprRequestType
        @Option(help: "gdpr (one month) or ccpa (45 days).") var regulation: Components.Schemas.GdprRequestCreate.RegulationPayload = .gdpr
        @Option(help: "The subject's e-mail address.") var email: String?
        @Option(help: "Or the customer account it concerns.") var customer: String?
        @Option(help: "Free text kept with the ticket.") var notes: String?

        func run() async throws {
            let body = Components.Schemas.GdprRequestCreate(
                _type: type, regulation: regulation, subject: .init(email: email, customerId: customer), notes: notes)
            let ticket = try await connection.withClient { try await $0.createGdprRequest(body: .json(body)).created.body.json }
            if connection.json { return try printJSON(ticket) }
            printTickets([ticket])
            if let verification = ticket.verification {
                print("a code went to \(verification.sentTo), valid until \(iso(verification.expiresAt)); then: meridian gdpr verify \(ticket.id) --code CODE")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tickets, newest first.")
        @OptionGroup var connection: APIConnection
        @Flag(help: "Only tickets not yet closed.") var open = false
        @Flag(help: "Only open tickets past their deadline.") var overdue = false

        func run() async throws {
            let list = try await connection.withClient {
                try await $0.listGdprRequests(query: .init(open: open ? true : nil, overdue: overdue ? true : nil)).ok.body.json
            }
            if connection.json { return try printJSON(list) }
            printTickets(list.items)
            if list.overdue > 0 { print("\(list.overdue) open request\(list.overdue == 1 ? " is" : "s are") OVERDUE") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One ticket.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The ticket id (dsr_...).") var id: String

        func run() async throws {
            let ticket = try await connection.withClient { try await $0.getGdprRequest(path: .init(requestId: id)).ok.body.json }
            if connection.json { return try printJSON(ticket) }
            printTickets([ticket])
            print("next: \(ticket.nextStates.map(\.rawValue).joined(separator: ", "))")
            if let reason = ticket.extensionReason { print("extended: \(reason)") }
            if let reason = ticket.stateReason { print("reason: \(reason)") }
            guard let answers = ticket.answers else { return }
            print("")
            printTable(
                ["REGION", "PLACE", "STATUS", "TRIES", "FOUND", "ERASED", "HELD", "NOTE"],
                answers.map { answer in
                    [
                        answer.region, answer.place ?? "-", answer.status.rawValue, "\(answer.attempts)",
                        "\(answer.classes.reduce(0) { $0 + $1.found })", "\(answer.classes.reduce(0) { $0 + $1.erased })",
                        "\(answer.classes.reduce(0) { $0 + $1.held })", answer.lastError ?? "",
                    ]
                })
            for answer in answers { if let signer = answer.signedBy { print("receipt of \(answer.region)/\(answer.place ?? "-") signed by \(signer)") } }
            let reasons = Set(answers.flatMap { $0.classes.flatMap(\.holdReasons) }).sorted()
            for reason in reasons { print("held: \(reason)") }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a completed access or portability request's ZIP (dpo token): a summary and JSON per data class and region.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The ticket id.") var id: String
        @Option(name: .shortAndLong, help: "Where to write the ZIP (default: ID.zip).") var out: String?

        func run() async throws {
            let data = try await connection.withClient { client -> Data in
                let body = try await client.exportGdprRequest(path: .init(requestId: id)).ok.body.applicationZip
                return try await Data(collecting: body, upTo: 1 << 30)
            }
            let path = out ?? "\(id).zip"
            try data.write(to: URL(fileURLWithPath: path))
            print("wrote \(path) (\(data.count) bytes)")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record the subject's identity as proved: the code, or (dpo) --document with what was seen.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The ticket id.") var id: String
        @Option(help: "The code the subject received.") var code: String?
        @Option(help: "Instead of a code: the proof of identity seen (dpo only).") var document: String?

        func run() async throws {
            let body: Components.Schemas.GdprVerify =
                if let document { .init(method: .document, reason: document) } else { .init(code: code, method: .code) }
            let ticket = try await connection.withClient { try await $0.verifyGdprRequest(path: .init(requestId: id), body: .json(body)).ok.body.json }
            if connection.json { return try printJSON(ticket) }
            printTickets([ticket])
        }
    }

    struct Extend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move the deadline once: at most two months (GDPR) or 45 days (CCPA) more.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The ticket id.") var id: String
        @Option(help: "Why; the subject is told.") var reason: String
        @Option(help: "The new deadline, ISO 8601 (default: the latest allowed).") var until: String?

        func run() async throws {
            let date = try until.map { try isoDate($0, option: "--until") }
            let ticket = try await connection.withClient {
                try await $0.extendGdprRequest(path: .init(requestId: id), body: .json(.init(reason: reason, until: date))).ok.body.json
            }
            if connection.json { return try printJSON(ticket) }
            printTickets([ticket])
        }
    }

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "move", abstract: "Move a ticket on: in_progress, completed, rejected or cancelled (the last two need --reason).")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The ticket id.") var id: String
        @Argument(help: "in_progress, completed, rejected or cancelled.") var state: Components.Schemas.GdprRequestUpdate.StatePayload
        @Option(help: "Why (required to reject or cancel).") var reason: String?

        func run() async throws {
            let ticket = try await connection.withClient {
                try await $0.updateGdprRequest(path: .init(requestId: id), body: .json(.init(state: state, reason: reason))).ok.body.json
            }
            if connection.json { return try printJSON(ticket) }
            printTickets([ticket])
        }
    }
}

private func printTickets(_ tickets: [Components.Schemas.GdprRequest]) {
    printTable(
        ["ID", "TYPE", "LAW", "SUBJECT", "STATE", "DUE", "FLAGS"],
        tickets.map {
            [
                $0.id, $0._type.rawValue, $0.regulation.rawValue, $0.subject, $0.state.rawValue, iso($0.dueAt),
                [$0.overdue ? "OVERDUE" : nil, $0.extended ? "extended" : nil].compactMap { $0 }.joined(separator: ","),
            ]
        })
}

extension Components.Schemas.GdprRequestType: ExpressibleByArgument {}
extension Components.Schemas.GdprRequestCreate.RegulationPayload: ExpressibleByArgument {}
extension Components.Schemas.GdprRequestUpdate.StatePayload: ExpressibleByArgument {}

import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian objections ...`: a customer's objections to sub-processors (its own token, or dpo and admin).
struct Objections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objections", abstract: "List, file and withdraw a customer's objections to sub-processors.",
        subcommands: [List.self, Add.self, Withdraw.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The customer's objections, standing and withdrawn.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String

        func run() async throws {
            let list = try await connection.withClient { try await $0.listObjections(path: .init(customerId: customer)).ok.body.json }
            if connection.json { return try printJSON(list) }
            printObjections(list.items)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Object to a sub-processor; its optional steps stop for the customer from the next config version.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Option(help: "The sub-processor's id (meridian subprocessors list).") var subprocessor: String
        @Option(help: "Why, as the customer gave it.") var reason: String?

        func run() async throws {
            let objection = try await connection.withClient {
                try await $0.createObjection(path: .init(customerId: customer), body: .json(.init(subprocessorId: subprocessor, reason: reason)))
                    .created.body.json
            }
            if connection.json { return try printJSON(objection) }
            printObjections([objection])
            if !objection.unavoidableSteps.isEmpty {
                print("note: \(objection.unavoidableSteps.map(\.rawValue).joined(separator: ", ")) cannot be left out for one customer; the objection is on record")
            }
        }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw an objection; the steps run again from the next config version.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Argument(help: "The objection id (obj_...).") var objection: String

        func run() async throws {
            let withdrawn = try await connection.withClient {
                try await $0.withdrawObjection(path: .init(customerId: customer, objectionId: objection)).ok.body.json
            }
            if connection.json { return try printJSON(withdrawn) }
            printObjections([withdrawn])
        }
    }
}

private func printObjections(_ objections: [Components.Schemas.Objection]) {
    printTable(
        ["ID", "SUB-PROCESSOR", "STANDING", "SKIPPED STEPS", "SINCE", "WITHDRAWN", "REASON"],
        objections.map {
            [
                $0.id, $0.subprocessorId, $0.standing ? "yes" : "no", $0.skippedSteps.map(\.rawValue).joined(separator: ","), iso($0.createdAt),
                iso($0.withdrawnAt), $0.reason,
            ]
        })
}

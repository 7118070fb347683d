import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian subprocessors ...`: the sub-processor registry (any token reads it; dpo and admin change it).
struct Subprocessors: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subprocessors", abstract: "List, show, announce and retire sub-processors.",
        subcommands: [List.self, Show.self, Add.self, Retire.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the registry with each entry's state.")
        @OptionGroup var connection: APIConnection

        func run() async throws {
            let list = try await connection.withClient { try await $0.listSubprocessors().ok.body.json }
            if connection.json { return try printJSON(list) }
            printEntries(list.items)
            print("notice period: \(list.noticeDays) days")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one entry and every version of it.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The entry's id, such as openai.") var id: String

        func run() async throws {
            let history = try await connection.withClient { try await $0.getSubprocessor(path: .init(subprocessorId: id)).ok.body.json }
            if connection.json { return try printJSON(history) }
            printEntries([history.current])
            print("purpose: \(history.current.purpose)")
            print("data: \(history.current.dataCategories.joined(separator: ", "))")
            print("transfers: \(history.current.transferMechanism)")
            if !history.current.egressHosts.isEmpty { print("egress hosts: \(history.current.egressHosts.joined(separator: ", "))") }
            print("")
            printTable(
                ["VERSION", "CHANGE", "AT", "BY"],
                history.versions.map { ["\($0.version)", $0.change.rawValue, iso($0.changedAt), $0.changedBy] })
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Announce a new sub-processor; customers with a DPA are notified and it takes effect after the notice period.")
        @OptionGroup var connection: APIConnection
        @Option(help: "A stable slug (default: made from the name).") var id: String?
        @Option(help: "Its name, such as OpenAI.") var name: String
        @Option(help: "The contracting legal entity.") var legalEntity: String
        @Option(help: "What it does for us.") var purpose: String
        @Option(parsing: .upToNextOption, help: "Categories of data it processes.") var data: [String]
        @Option(parsing: .upToNextOption, help: "Regions whose data it may process (eu, us, ap).") var regions: [String]
        @Option(parsing: .upToNextOption, help: "Where it processes, in words.") var locations: [String] = []
        @Option(help: "Transfer mechanism, such as EU SCCs.") var transfer: String = ""
        @Flag(help: "A DPA with it is in place.") var dpa = false
        @Option(parsing: .upToNextOption, help: "Hosts a node may reach when running its steps.") var egress: [String] = []
        @Option(
            parsing: .upToNextOption,
            help: "Processing steps it serves: \(Components.Schemas.ProcessingStep.allCases.map(\.rawValue).joined(separator: ", ")).")
        var steps: [Components.Schemas.ProcessingStep]
        @Option(help: "When it takes effect, ISO 8601 (default: after the notice period).") var effectiveFrom: String?

        func run() async throws {
            let effective = try effectiveFrom.map { try isoDate($0, option: "--effective-from") }
            let body = Components.Schemas.SubProcessorCreate(
                id: id, name: name, legalEntity: legalEntity, purpose: purpose, dataCategories: data, regions: regions, locations: locations,
                transferMechanism: transfer, dpaInPlace: dpa, egressHosts: egress, steps: steps, effectiveFrom: effective)
            let created = try await connection.withClient { try await $0.createSubprocessor(body: .json(body)).created.body.json }
            if connection.json { return try printJSON(created) }
            printEntries([created])
            print("announced; customers with a DPA are notified (meridian: GET /v1/notifications) and may object until \(iso(created.effectiveFrom))")
        }
    }

    struct Retire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retire an entry: its steps stop at the given time (default: now).")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The entry's id.") var id: String
        @Option(help: "When it stops, ISO 8601 (default: now).") var at: String?

        func run() async throws {
            let until = try at.map { try isoDate($0, option: "--at") } ?? Date()
            let updated = try await connection.withClient {
                try await $0.updateSubprocessor(path: .init(subprocessorId: id), body: .json(.init(effectiveUntil: until))).ok.body.json
            }
            if connection.json { return try printJSON(updated) }
            printEntries([updated])
        }
    }
}

private func printEntries(_ entries: [Components.Schemas.SubProcessor]) {
    printTable(
        ["ID", "NAME", "STEPS", "REGIONS", "STATE", "FROM", "UNTIL", "DEMO"],
        entries.map {
            [
                $0.id, $0.name, $0.steps.map(\.rawValue).joined(separator: ","), $0.regions.joined(separator: ","), $0.state.rawValue,
                iso($0.effectiveFrom), iso($0.effectiveUntil), $0.demo ? "demo" : "",
            ]
        })
}

extension Components.Schemas.ProcessingStep: ExpressibleByArgument {}

import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian nodes`: the regional nodes and the config version each applied; `meridian nodes forget` takes a
/// retired one off the list.
struct Nodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the regional nodes with the config version each applied, and forget retired ones.",
        subcommands: [List.self, Forget.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the regional nodes with the config version each applied and its last ACK or NACK.",
            discussion: "A node appears once it has pulled its bundle. STATE is in_sync, behind, refused (NACK) or unreachable.")

        @OptionGroup var connection: APIConnection

        func run() async throws {
            let list = try await connection.withClient { try await $0.listNodes().ok.body.json }
            if connection.json { return try printJSON(list) }
            print("config version \(list.configVersion.map(String.init) ?? "none yet")\(list.configPublishedAt.map { ", published \(iso($0))" } ?? "")")
            printTable(
                ["NODE", "REGION", "APPLIED", "STATE", "LAST ANSWER", "AT", "CONTROL URL"],
                list.nodes.map {
                    [$0.id, $0.region, $0.appliedVersion.map(String.init) ?? "-", $0.state.rawValue, $0.lastResult?.rawValue ?? "-",
                     iso($0.lastResultAt), $0.controlUrl]
                })
            for node in list.nodes where node.lastError != nil {
                print("\(node.id): \(node.lastError!)")
            }
        }
    }

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a retired node off the list; it is no longer pushed to or counted unreachable.",
            discussion: "A node that is still running comes back at its next pull. Admin only; audited as node.forget.")

        @OptionGroup var connection: APIConnection
        @Argument(help: "The node id, as meridian nodes lists it (e.g. eu-2).") var id: String

        func run() async throws {
            let node = try await connection.withClient { try await $0.forgetNode(path: .init(nodeId: id)).ok.body.json }
            if connection.json { return try printJSON(node) }
            print("forgot \(node.id) (\(node.region), \(node.controlUrl), last \(node.state.rawValue))")
        }
    }
}

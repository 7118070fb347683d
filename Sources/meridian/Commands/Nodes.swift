import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian nodes`: the regional nodes and the config version each applied; `enroll` gives a new node its join
/// token, `revoke` ends a node's access, `forget` takes a retired one off the list.
struct Nodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the regional nodes with the config version each applied; enroll, revoke and forget them.",
        subcommands: [List.self, Enroll.self, Revoke.self, Forget.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the regional nodes with the config version each applied and its last ACK or NACK.",
            discussion: "A node appears once it has pulled its bundle. STATE is in_sync, behind, refused (NACK) or unreachable.")

        @OptionGroup var connection: APIConnection

        func run() async throws {
            let list = try await connection.withClient { try await $0.listNodes().ok.body.json }
            if connection.json { return try printJSON(list) }
            print("config version \(list.configVersion.map(String.init) ?? "none yet")\(list.configPublishedAt.map { ", published \(iso($0))" } ?? "")")
            if let leader = list.leader {
                print("leader \(leader.replica) (term \(leader.term), since \(iso(leader.since))); answered by \(list.replica)")
            } else {
                print("no replica leads right now; answered by \(list.replica)")
            }
            printTable(
                ["NODE", "REGION", "ENROLLMENT", "APPLIED", "STATE", "LAST ANSWER", "AT", "CONTROL URL"],
                list.nodes.map {
                    [$0.id, $0.region, $0.enrollment?.rawValue ?? "-", $0.appliedVersion.map(String.init) ?? "-", $0.state.rawValue,
                     $0.lastResult?.rawValue ?? "-", iso($0.lastResultAt), $0.controlUrl]
                })
            for node in list.nodes where node.lastError != nil {
                print("\(node.id): \(node.lastError!)")
            }
        }
    }

    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll a node: fix its region, id and control URL, and print its one-time join token.",
            discussion: """
                Start the node once with the token (meridian node --join TOKEN ...): it makes its own key and gets a \
                certificate naming its region and id. The token works once, for an hour, and is shown only now. An active \
                node must be revoked before it is enrolled again. Admin only; audited as node.enroll.
                """)

        @OptionGroup var connection: APIConnection
        @Argument(help: "The region the node serves (eu, us, ap).") var region: String
        @Argument(help: "The node's id (letters, digits, - _ .), e.g. eu-1.") var id: String
        @Option(help: "Where the coordinator reaches the node's control API, e.g. https://eu-1.internal:9101.") var controlURL: String

        func run() async throws {
            let enrolled = try await connection.withClient {
                try await $0.enrollNode(body: .json(.init(region: region, nodeId: id, controlUrl: controlURL))).created.body.json
            }
            if connection.json { return try printJSON(enrolled) }
            print("enrolled \(enrolled.node.id) (\(enrolled.node.region), \(enrolled.node.controlUrl))")
            print("join token (shown once, works once, until \(iso(enrolled.joinTokenExpiresAt))):")
            print(enrolled.joinToken)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a node's access at once: its certificate is refused from its next request.",
            discussion: "Enroll the id again for a new join token. Admin only; audited as node.revoke.")

        @OptionGroup var connection: APIConnection
        @Argument(help: "The node id, as meridian nodes lists it (e.g. eu-2).") var id: String

        func run() async throws {
            let node = try await connection.withClient { try await $0.revokeNode(path: .init(nodeId: id)).ok.body.json }
            if connection.json { return try printJSON(node) }
            print("revoked \(node.id) (\(node.region), \(node.controlUrl))")
        }
    }

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a retired node off the list; it is no longer pushed to or counted unreachable.",
            discussion: "A node that is still running is refused from then on; enroll it again to bring it back. Admin only; audited as node.forget.")

        @OptionGroup var connection: APIConnection
        @Argument(help: "The node id, as meridian nodes lists it (e.g. eu-2).") var id: String

        func run() async throws {
            let node = try await connection.withClient { try await $0.forgetNode(path: .init(nodeId: id)).ok.body.json }
            if connection.json { return try printJSON(node) }
            print("forgot \(node.id) (\(node.region), \(node.controlUrl), last \(node.state.rawValue))")
        }
    }
}

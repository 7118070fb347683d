import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian quarantine`: a customer's held messages in every region, with the customer's token (or
/// support's, under the customer's access grant). Operators cannot read held mail.
struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract: "List, preview, release or delete a customer's held messages (the customer's token, or support under a grant).",
        subcommands: [List.self, Show.self, Release.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The held messages, newest first, from every region.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Option(help: "Most messages to list (1 to 1000).") var limit = 100

        func run() async throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit \(limit): from 1 to 1000") }
            let page = try await connection.withClient {
                try await $0.listQuarantine(path: .init(customerId: customer), query: .init(limit: limit)).ok.body.json
            }
            if connection.json { return try printJSON(page) }
            for source in page.sources where source.status != .ok {
                print("note: \(source.region ?? source.url) did not answer (\(source.status.rawValue)); its held mail is not listed")
            }
            guard !page.messages.isEmpty else { return print("nothing held") }
            for message in page.messages {
                let subject = message.metadata.additionalProperties.value["subject"] as? String ?? "(no subject)"
                print("\(message.messageId)  \(iso(message.receivedAt))  \(message.region)  \(subject)  — \(message.finalReason ?? "")")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One held message: why, the verdicts, its header fields and text.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Argument(help: "The message id (eml_…).") var message: String

        func run() async throws {
            let preview = try await connection.withClient {
                try await $0.previewQuarantined(path: .init(customerId: customer, messageId: message)).ok.body.json
            }
            if connection.json { return try printJSON(preview) }
            print("\(preview.messageId) held in \(preview.region) since \(iso(preview.receivedAt)): \(preview.reason)")
            print("from \(preview.from) to \(preview.recipients.joined(separator: ", "))")
            for header in preview.headers { print("\(header.name): \(header.value)") }
            print("")
            print(preview.text ?? "(no text part)")
            if preview.textTruncated { print("[… cut at 64 KB]") }
            for attachment in preview.attachments { print("attachment: \(attachment.fileName ?? "(unnamed)") \(attachment.contentType), \(attachment.size) bytes") }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliver held messages now, under the config in force.")
        @OptionGroup var selection: Selection

        func run() async throws {
            try await selection.act { client, customer, ids in
                try await client.releaseQuarantined(path: .init(customerId: customer), body: .json(.init(messageIds: ids))).ok.body.json
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete held messages without delivering them.")
        @OptionGroup var selection: Selection

        func run() async throws {
            try await selection.act { client, customer, ids in
                try await client.deleteQuarantined(path: .init(customerId: customer), body: .json(.init(messageIds: ids))).ok.body.json
            }
        }
    }

    /// What release and delete take: the customer and 1 to 100 message ids; each prints what became of each.
    struct Selection: ParsableArguments {
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Argument(help: "Message ids (eml_…), 1 to 100.") var messages: [String]

        func act(
            _ call: @escaping @Sendable (Client, _ customer: String, _ ids: [String]) async throws -> Components.Schemas.QuarantineOutcomes
        ) async throws {
            let (customer, messages) = (self.customer, self.messages)
            let outcomes = try await connection.withClient { try await call($0, customer, messages) }
            if connection.json { return try printJSON(outcomes) }
            for outcome in outcomes.outcomes {
                print("\(outcome.messageId): \(outcome.result.rawValue.replacingOccurrences(of: "_", with: " "))\(outcome.detail.map { " (\($0))" } ?? "")")
            }
            if outcomes.outcomes.contains(where: { $0.result == .notFound || $0.result == .busy }) { throw ExitCode(1) }
        }
    }
}

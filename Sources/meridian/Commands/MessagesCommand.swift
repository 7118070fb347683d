import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian messages`: a customer's message log from every region, one delivery with its attempts, and
/// redelivery of one waiting for its retry; the same as the API and the dashboard's Messages pages.
struct MessagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "messages",
        abstract: "A customer's message log from every region: list with filters, show one delivery's attempts, deliver one now.",
        subcommands: [List.self, Show.self, Redeliver.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliveries newest first; prints the cursor of the next page when there may be more.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Option(help: "Only this status: queued, delivered, failed, rejected, deferred, quarantined or discarded.")
        var status: Operations.ListCustomerMessages.Input.Query.StatusPayload?
        @Option(help: "Only this envelope sender.") var sender: String?
        @Option(help: "Only this envelope recipient.") var recipient: String?
        @Option(help: "Only subjects containing this text.") var subject: String?
        @Option(help: "Only messages received at or after this time (RFC 3339, such as 2026-12-01T00:00:00Z).") var since: String?
        @Option(help: "The next page: the cursor a previous page printed.") var after: String?
        @Option(help: "Most deliveries to list (1 to 1000).") var limit = 50

        func run() async throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit \(limit): from 1 to 1000") }
            let from = try since.map { try isoDate($0, option: "--since") }
            let page = try await connection.withClient {
                try await $0.listCustomerMessages(
                    path: .init(customerId: customer),
                    query: .init(since: from, sender: sender, recipient: recipient, status: status, subject: subject, after: after, limit: limit)
                ).ok.body.json
            }
            if connection.json { return try printJSON(page) }
            for source in page.sources where source.status != .ok {
                print("note: \(source.region ?? source.url) did not answer (\(source.status.rawValue)); its messages are missing here")
            }
            printTable(
                ["MESSAGE", "RCPT", "RECEIVED", "STATUS", "TRIES", "REGION", "TO", "SUBJECT"],
                page.messages.map { record in
                    let metadata = record.metadata.additionalProperties.value
                    return [
                        record.messageId, "\(record.recipient)", iso(record.receivedAt), record.status.rawValue, "\(record.attempts)", record.region,
                        metadata["envelope_to"] as? String ?? "-", metadata["subject"] as? String ?? "-",
                    ]
                })
            if let next = page.nextCursor { print("more: --after \(next)") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One delivery: its record and every attempt with the endpoint's answer.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Argument(help: "The message id (eml_…).") var message: String
        @Argument(help: "The recipient's index (0 for the first).") var recipient = 0

        func run() async throws {
            let detail = try await connection.withClient {
                try await $0.getCustomerMessage(path: .init(customerId: customer, messageId: message, recipient: recipient)).ok.body.json
            }
            if connection.json { return try printJSON(detail) }
            let record = detail.message
            print("\(record.messageId)/\(record.recipient)  \(record.status.rawValue) after \(record.attempts) attempt(s), \(record.region) (\(record.node))")
            if let reason = record.finalReason { print("why      \(reason)") }
            if let next = record.nextAttemptAt { print("next     \(iso(next))") }
            printTable(
                ["WHEN", "TOOK", "HTTP", "OUTCOME", "CONFIG", "ANSWER"],
                detail.attempts.map {
                    [iso($0.at), "\($0.durationMs) ms", $0.statusCode.map(String.init) ?? "-", $0.outcome, $0.configVersion.map(String.init) ?? "-", $0.detail]
                })
        }
    }

    struct Redeliver: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Attempt a delivery waiting for its retry now (a delivered or failed one is no longer in the spool).")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Argument(help: "The message id (eml_…).") var message: String
        @Argument(help: "The recipient's index (0 for the first).") var recipient = 0

        func run() async throws {
            let answer = try await connection.withClient {
                try await $0.redeliverMessage(path: .init(customerId: customer, messageId: message, recipient: recipient)).ok.body.json
            }
            if connection.json { return try printJSON(answer) }
            print(answer.outcome == .scheduled ? "\(message)/\(recipient): being attempted now (it was \(answer.status))" : "\(message)/\(recipient): due already (\(answer.status))")
        }
    }
}

extension Operations.ListCustomerMessages.Input.Query.StatusPayload: ExpressibleByArgument {}

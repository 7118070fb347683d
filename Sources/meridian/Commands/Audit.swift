import ArgumentParser
import Foundation
import MeridianAPI
import MeridianCore

/// `meridian audit ...`: read the audit log and check its hash chain.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the audit log and verify its hash chain.", subcommands: [List.self, Verify.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print audit entries in order.")
        @OptionGroup var connection: APIConnection
        @Option(help: "Start after this sequence number.") var after: Int64 = 0
        @Option(help: "At most this many entries (1-1000).") var limit = 100

        func run() async throws {
            let page = try await connection.withClient { try await $0.listAuditEntries(query: .init(after: after, limit: limit)).ok.body.json }
            if connection.json { return try printJSON(page) }
            printTable(
                ["SEQ", "AT", "ACTOR", "ROLE", "ACTION", "TARGET", "FROM"],
                page.items.map { ["\($0.sequence)", iso($0.at), $0.actorId, $0.actorRole, $0.action, $0.target, $0.sourceIp] })
            if let next = page.nextAfter { print("more: --after \(next)") }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch the whole log and recompute every hash; exits 1 at the first break.",
            discussion: "The check runs here, not on the coordinator, so it does not rely on the server's word.")
        @OptionGroup var connection: APIConnection

        func run() async throws {
            var chain = AuditChain()
            var after: Int64 = 0
            let result: AuditChain.Break? = try await connection.withClient { client in
                while true {
                    let page = try await client.listAuditEntries(query: .init(after: after, limit: 1000)).ok.body.json
                    for entry in page.items {
                        let record = AuditRecord(entry)
                        if let broken = chain.check(record) { return broken }
                    }
                    guard let next = page.nextAfter else { return nil }
                    FileHandle.standardError.write(Data("checked \(chain.checked) entries...\n".utf8))
                    after = next
                }
            }
            if let broken = result {
                print("audit chain BROKEN at \(broken)")
                throw ExitCode(1)
            }
            print("audit chain intact: \(chain.checked) entries verified")
        }
    }
}

extension AuditRecord {
    /// The record as the API returned it, with the stored hash kept as is so that a mismatch shows.
    init(_ entry: Components.Schemas.AuditEntry) {
        self.init(
            sequence: entry.sequence, timestampMillis: entry.timestampMs, actorID: entry.actorId, actorRole: entry.actorRole,
            action: entry.action, target: entry.target, sourceIP: entry.sourceIp, detail: entry.detail.additionalProperties,
            previousHash: entry.previousHash)
        self.hash = entry.hash
    }
}

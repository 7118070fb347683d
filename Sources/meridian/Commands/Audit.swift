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
            abstract: "Fetch the whole log, recompute every hash and hold it to the signed checkpoints; exits 1 at the first break.",
            discussion: """
                The check runs here, not on the coordinator, so it does not rely on the server's word. Besides the chain, \
                the log is held to the coordinator's newest signed checkpoint (/.well-known/audit-checkpoint) and to any \
                checkpoints kept elsewhere (--checkpoints, a file of JSON lines such as the coordinator's \
                audit-checkpoints.jsonl or your own copies): entries deleted or rewritten after a checkpoint was signed \
                are reported with the first sequence number that can be wrong.
                """)
        @OptionGroup var connection: APIConnection
        @Option(help: "A file of audit checkpoints (JSON lines) to hold the log to as well.") var checkpoints: String?
        @Option(help: "The publication key's PEM the checkpoints must be signed with (default: the coordinator's /.well-known/canary.pub).")
        var key: String?

        func run() async throws {
            var records: [AuditRecord] = []
            var after: Int64 = 0
            try await connection.withClient { client in
                while true {
                    let page = try await client.listAuditEntries(query: .init(after: after, limit: 1000)).ok.body.json
                    records += page.items.map(AuditRecord.init)
                    guard let next = page.nextAfter else { return }
                    FileHandle.standardError.write(Data("fetched \(records.count) entries...\n".utf8))
                    after = next
                }
            }
            let anchors = try await signedCheckpoints()
            let (checked, broken) = AuditChain.verify(records, against: anchors)
            if let broken {
                print("audit chain BROKEN at \(broken)")
                throw ExitCode(1)
            }
            let newest = anchors.max { $0.sequence < $1.sequence }
            print("audit chain intact: \(checked) entries verified" + (newest.map { ", held to \(anchors.count) signed checkpoints up to entry \($0.sequence) (\(iso($0.at)))" } ?? "; no checkpoint to hold it to yet"))
        }

        /// The coordinator's newest checkpoint and those of `--checkpoints`, each checked against the publication key.
        func signedCheckpoints() async throws -> [AuditCheckpoint] {
            let base = connection.baseURL
            let pem: String
            if let key {
                do { pem = try String(contentsOfFile: key, encoding: .utf8) } catch { throw CLIError("--key \(key): cannot read it (\(error.localizedDescription))") }
            } else {
                let fetched = try await fetchPublic(base + "/.well-known/canary.pub", limit: 4096)
                guard fetched.status == 200 else { throw CLIError("\(base)/.well-known/canary.pub answered \(fetched.status); give the key with --key") }
                pem = String(decoding: fetched.body, as: UTF8.self)
            }
            guard let publicKey = Ed25519PEM.decode(pem) else { throw CLIError("the publication key is not an Ed25519 public key in PEM") }
            var found: [AuditCheckpoint] = []
            let served = try await fetchPublic(base + "/.well-known/audit-checkpoint", limit: 4096)
            if served.status == 200 {
                do {
                    found.append(try JSONDecoder().decode(AuditCheckpoint.self, from: served.body))
                } catch {
                    throw CLIError("\(base)/.well-known/audit-checkpoint is not an audit checkpoint: \(error)")
                }
            }
            if let checkpoints {
                let text: String
                do { text = try String(contentsOfFile: checkpoints, encoding: .utf8) } catch {
                    throw CLIError("--checkpoints \(checkpoints): cannot read it (\(error.localizedDescription))")
                }
                for (index, line) in text.split(separator: "\n").enumerated() {
                    do {
                        found.append(try JSONDecoder().decode(AuditCheckpoint.self, from: Data(line.utf8)))
                    } catch {
                        throw CLIError("--checkpoints \(checkpoints), line \(index + 1): not an audit checkpoint")
                    }
                }
            }
            for checkpoint in found where !checkpoint.isSigned(by: publicKey) {
                throw CLIError("the checkpoint of entry \(checkpoint.sequence) (\(iso(checkpoint.at))) is not signed by the publication key")
            }
            return found
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

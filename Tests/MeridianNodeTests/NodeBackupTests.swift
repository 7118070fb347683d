import Foundation
import Logging
import MeridianCore
import SQLiteNIO
import Testing

@testable import MeridianNode

@Suite("Node backups: the metadata store with its side files, and the account erasures that shorten older backups")
struct NodeBackupTests {
    static func directory() -> String {
        let path = NSTemporaryDirectory() + "meridian-backups-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let box = SecretBox(keyBytes: Data(repeating: 7, count: 32))!
    static let day = 86_400.0

    @Test("a node's backup holds the pending and set-aside files beside its metadata store, and restores them beside it")
    func nodeSideFiles() async throws {
        let work = Self.directory()
        let node = work + "/node"
        try FileManager.default.createDirectory(atPath: node, withIntermediateDirectories: true)
        try await MetadataStore.open(path: node + "/metadata.sqlite", logger: Logger(label: "test")).close()
        let rejected = Data(#"{"at":1795514400000,"error":"poisoned row","write":{"record":{}}}"#.utf8 + [0x0A])
        try rejected.write(to: URL(fileURLWithPath: node + "/metadata-rejected.jsonl"))
        let file = try await NodeBackup.make(dataDirectory: node, box: Self.box, into: work + "/backups")
        let header = try Backup.header(of: file)
        #expect(header.sideFiles == [.init(name: "metadata-rejected.jsonl", bytes: rejected.count)])

        _ = try NodeBackup.restore(file, box: Self.box, dataDirectory: work + "/fresh")
        #expect(FileManager.default.contents(atPath: work + "/fresh/metadata-rejected.jsonl") == rejected)
        let mode = try FileManager.default.attributesOfItem(atPath: work + "/fresh/metadata-rejected.jsonl")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let restored = try await MetadataStore.open(path: work + "/fresh/metadata.sqlite", logger: Logger(label: "test"))
        let tables = try await restored.connection.query("SELECT count(*) AS n FROM sqlite_master WHERE name = 'deliveries'").first?.column("n")?.integer
        try await restored.close()
        #expect(tables == 1)

        // A side file already at the target is not overwritten, and nothing is written.
        try FileManager.default.createDirectory(atPath: work + "/busy", withIntermediateDirectories: true)
        try Data("kept".utf8).write(to: URL(fileURLWithPath: work + "/busy/metadata-rejected.jsonl"))
        #expect(throws: NodeError(.backupFailed)) { try NodeBackup.restore(file, box: Self.box, dataDirectory: work + "/busy") }
        #expect(!FileManager.default.fileExists(atPath: work + "/busy/metadata.sqlite"))
        #expect(FileManager.default.contents(atPath: work + "/busy/metadata-rejected.jsonl") == Data("kept".utf8))

        // A header naming a file a node does not keep, or sizes that do not add up, is refused (even sealed with the key).
        let forgeries: [(Int, [Backup.SideFile]?)] = [
            (1, [.init(name: "../escape", bytes: 1)]), (1, [.init(name: "metadata-pending.jsonl", bytes: 5)]), (-1, nil), (5, nil),
        ]
        for (bytes, sideFiles) in forgeries {
            let forged = try Backup.write(
                .init(kind: .nodeMetadata, createdAt: Date(), source: "x", bytes: bytes, sideFiles: sideFiles), Data([1, 2]), box: Self.box,
                into: work + "/forged-\(UUID().uuidString)")
            #expect(throws: NodeError(.backupFailed)) { try NodeBackup.restore(forged, box: Self.box, dataDirectory: work + "/\(UUID().uuidString)") }
        }
        #expect(!FileManager.default.fileExists(atPath: work + "/escape"))
    }

    @Test("a node records the times it erased an account, keeps those of the backups period, and its backup lists them")
    func nodeAccountErasures() async throws {
        let node = Self.directory()
        let now = Date()
        #expect(AccountErasures.read(dataDirectory: node).isEmpty)
        try AccountErasures.record(now.addingTimeInterval(-100 * Self.day), dataDirectory: node, keep: .days(90))
        try AccountErasures.record(now.addingTimeInterval(-2 * Self.day), dataDirectory: node, keep: .days(90))
        try AccountErasures.record(now, dataDirectory: node, keep: .days(90))
        let times = AccountErasures.read(dataDirectory: node)
        #expect(times.count == 2 && abs(times[1].timeIntervalSince(now)) < 0.01)
        let mode = try FileManager.default.attributesOfItem(atPath: node + "/accounts-erased.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try await MetadataStore.open(path: node + "/metadata.sqlite", logger: Logger(label: "test")).close()
        let file = try await NodeBackup.make(dataDirectory: node, box: Self.box, into: node + "/backups", at: now)
        let listed = try #require(try Backup.header(of: file).accountsErased)
        #expect(listed.count == 2 && zip(listed, times).allSatisfy { abs($0.timeIntervalSince($1)) < 1 })
        // An unreadable file records nothing rather than stopping the node or its backup.
        try Data("not json".utf8).write(to: URL(fileURLWithPath: node + "/accounts-erased.json"))
        #expect(AccountErasures.read(dataDirectory: node).isEmpty)
    }
}

import Foundation
import MeridianCore
import SQLKit
import Testing

@testable import MeridianCoordinator

@Suite("Backups: encrypted snapshots, restore, and deletion after the backups policy")
struct BackupTests {
    static func directory() -> String {
        let path = NSTemporaryDirectory() + "meridian-backups-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let box = SecretBox(keyBytes: Data(repeating: 7, count: 32))!
    static let retention = Backup.Retention(backups: .days(90), deletedAccounts: .days(45))
    static let day = 86_400.0

    /// An account purge in the audit log, as the account retention job writes it.
    static func purge(_ store: any SQLStore, at date: Date) async throws {
        try await store.withSession { db in
            _ = try await SQLAuditLog.append(AuditEvent("customer.purge", target: "cus_gone"), by: .system("retention"), at: date, on: db)
        }
    }

    static func legalRequestCount(_ store: any SQLStore) async throws -> Int64 {
        try await store.withSession { db in
            try await db.raw("SELECT count(*) AS n FROM legal_requests").first()!.decode(column: "n", as: Int64.self)
        }
    }

    static func record(_ store: any SQLStore) async throws {
        let date = Date()
        try await LegalRequestRepository(store: store).create(
            LegalRequest(
                id: ResourceID.make(prefix: "lrq", at: date), receivedOn: CalendarDay(containing: date), authority: "Court", country: "DE",
                kind: .warrant, accountsAffected: 1, outcome: .pending, gagUntil: nil, notes: nil, createdAt: date, createdBy: "test", updatedAt: date),
            by: .system("test"))
    }

    @Test("a SQLite coordinator is backed up while open, restored only into a new path, and refused with another key or a changed byte")
    func sqlite() async throws {
        let work = Self.directory()
        let path = work + "/coordinator.sqlite"
        let store = try await SQLiteStore.open(path: path, logger: TestStores.logger)
        try await Migrations.run(on: store, logger: TestStores.logger)
        try await Self.record(store)
        let now = Date()
        try await Self.purge(store, at: now.addingTimeInterval(-100 * Self.day))
        try await Self.purge(store, at: now.addingTimeInterval(-3 * Self.day))
        let file = try await Backup.coordinator(.sqlite(path: path), box: Self.box, into: work + "/backups", retention: Self.retention, at: now)
        try await store.close()
        let header = try Backup.header(of: file)
        #expect(header.kind == .coordinatorSQLite && header.source == path && header.bytes > 0)
        // The purges within the backups period are in the header (to the second: the header's ISO 8601 times).
        let erased = try #require(header.accountsErased)
        #expect(erased.count == 1 && abs(erased[0].timeIntervalSince(now.addingTimeInterval(-3 * Self.day))) < 1)
        let raw = try #require(FileManager.default.contents(atPath: file))
        #expect(raw.range(of: Data("Court".utf8)) == nil, "the snapshot is encrypted")

        #expect(throws: BackupError.self) { try Backup.restore(file, box: Self.box, to: .sqlite(path: path)) }
        let other = SecretBox(keyBytes: Data(repeating: 8, count: 32))!
        #expect(throws: BackupError.self) { try Backup.restore(file, box: other, to: .sqlite(path: work + "/other.sqlite")) }
        var changed = raw
        changed[changed.count - 40] ^= 1
        try changed.write(to: URL(fileURLWithPath: work + "/changed.mrbk"))
        #expect(throws: BackupError.self) { try Backup.restore(work + "/changed.mrbk", box: Self.box, to: .sqlite(path: work + "/changed.sqlite")) }

        _ = try Backup.restore(file, box: Self.box, to: .sqlite(path: work + "/restored.sqlite"))
        let restored = try await SQLiteStore.open(path: work + "/restored.sqlite", logger: TestStores.logger)
        #expect(try await Self.legalRequestCount(restored) == 1)
        try await restored.close()
    }

    @Test("a node's backup holds the pending and set-aside files beside its metadata store, and restores them beside it")
    func nodeSideFiles() async throws {
        let work = Self.directory()
        let node = work + "/node"
        try FileManager.default.createDirectory(atPath: node, withIntermediateDirectories: true)
        let store = try await SQLiteStore.open(path: node + "/metadata.sqlite", logger: TestStores.logger)
        try await store.withSession { db in try await db.raw("CREATE TABLE deliveries (message_id TEXT)").run() }
        try await store.close()
        let rejected = Data(#"{"at":1795514400000,"error":"poisoned row","write":{"record":{}}}"#.utf8 + [0x0A])
        try rejected.write(to: URL(fileURLWithPath: node + "/metadata-rejected.jsonl"))
        let file = try await Backup.node(dataDirectory: node, box: Self.box, into: work + "/backups")
        let header = try Backup.header(of: file)
        #expect(header.sideFiles == [.init(name: "metadata-rejected.jsonl", bytes: rejected.count)])

        _ = try Backup.restore(file, box: Self.box, to: .sqlite(path: work + "/fresh/metadata.sqlite"))
        #expect(FileManager.default.contents(atPath: work + "/fresh/metadata-rejected.jsonl") == rejected)
        let mode = try FileManager.default.attributesOfItem(atPath: work + "/fresh/metadata-rejected.jsonl")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let restored = try await SQLiteStore.open(path: work + "/fresh/metadata.sqlite", logger: TestStores.logger)
        let tables = try await restored.withSession { db in
            try await db.raw("SELECT count(*) AS n FROM sqlite_master WHERE name = 'deliveries'").first()!.decode(column: "n", as: Int64.self)
        }
        try await restored.close()
        #expect(tables == 1)

        // A side file already at the target is not overwritten, and nothing is written.
        try FileManager.default.createDirectory(atPath: work + "/busy", withIntermediateDirectories: true)
        try Data("kept".utf8).write(to: URL(fileURLWithPath: work + "/busy/metadata-rejected.jsonl"))
        #expect(throws: BackupError.self) { try Backup.restore(file, box: Self.box, to: .sqlite(path: work + "/busy/metadata.sqlite")) }
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
            #expect(throws: BackupError.self) { try Backup.restore(forged, box: Self.box, to: .sqlite(path: work + "/\(UUID().uuidString)/metadata.sqlite")) }
        }
        #expect(!FileManager.default.fileExists(atPath: work + "/escape"))
    }

    @Test("backups older than the policy are deleted, younger ones and other files are kept")
    func prune() throws {
        let work = Self.directory()
        let now = Date()
        let old = try Backup.write(
            .init(kind: .nodeMetadata, createdAt: now.addingTimeInterval(-91 * 86_400), source: "x", bytes: 1), Data([1]), box: Self.box, into: work)
        let young = try Backup.write(
            .init(kind: .nodeMetadata, createdAt: now.addingTimeInterval(-89 * 86_400), source: "x", bytes: 1), Data([1]), box: Self.box, into: work)
        try Data("notes".utf8).write(to: URL(fileURLWithPath: work + "/README.mrbk"))
        #expect(try Backup.prune(work, retention: Self.retention, at: now) == [old])
        #expect(FileManager.default.fileExists(atPath: young) && FileManager.default.fileExists(atPath: work + "/README.mrbk"))
    }

    @Test("a backup made before an account's deletion goes within the deleted-accounts period of it, wherever the deletion is recorded")
    func accountDeletion() throws {
        let work = Self.directory()
        let now = Date()
        func backup(_ daysAgo: Double, erased: [Double] = []) throws -> String {
            try Backup.write(
                .init(
                    kind: .coordinatorSQLite, createdAt: now.addingTimeInterval(-daysAgo * Self.day), source: "x", bytes: 1,
                    accountsErased: erased.isEmpty ? nil : erased.map { now.addingTimeInterval(-$0 * Self.day) }),
                Data([1]), box: Self.box, into: work)
        }
        // An account was deleted 50 days ago; the backup of 49 days ago records it.
        let beforeOld = try backup(60)
        let afterOld = try backup(49, erased: [50])
        // Another 10 days ago, recorded by today's backup.
        let beforeRecent = try backup(20)
        let today = try backup(0, erased: [10, 50])
        let inventory = Backup.inventory(work)
        #expect(inventory.accountsErased.count == 2)
        let before = try Backup.header(of: beforeOld)
        let deletion = Backup.deletion(of: before, accountsErased: inventory.accountsErased, retention: Self.retention)
        #expect(abs(deletion.at.timeIntervalSince(now.addingTimeInterval(-5 * Self.day))) < 1)
        #expect(deletion.reason.contains("deleted_customer_backups 45d"))
        let recent = Backup.deletion(of: try Backup.header(of: beforeRecent), accountsErased: inventory.accountsErased, retention: Self.retention)
        #expect(abs(recent.at.timeIntervalSince(now.addingTimeInterval(35 * Self.day))) < 1)
        // The first deletion after a backup counts: the one 10 days ago for the backup of 49 days ago.
        let middle = Backup.deletion(of: try Backup.header(of: afterOld), accountsErased: inventory.accountsErased, retention: Self.retention)
        #expect(abs(middle.at.timeIntervalSince(now.addingTimeInterval(35 * Self.day))) < 1)
        // Without a deletion after it, a backup keeps the backups period.
        let kept = Backup.deletion(of: try Backup.header(of: today), accountsErased: inventory.accountsErased, retention: Self.retention)
        #expect(kept.reason == "backups policy, 90d" && abs(kept.at.timeIntervalSince(now.addingTimeInterval(90 * Self.day))) < 1)

        #expect(try Backup.prune(work, retention: Self.retention, at: now) == [beforeOld])
        #expect(try Backup.prune(work, retention: Self.retention, at: now.addingTimeInterval(36 * Self.day)).sorted() == [afterOld, beforeRecent].sorted())
        #expect(FileManager.default.fileExists(atPath: today))
        // A deletion far back cannot make a backup outlive the backups period.
        let late = Backup.deletion(
            of: .init(kind: .nodeMetadata, createdAt: now, source: "x", bytes: 1), accountsErased: [now.addingTimeInterval(80 * Self.day)],
            retention: Self.retention)
        #expect(late.at == now.addingTimeInterval(90 * Self.day) && late.reason == "backups policy, 90d")
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
        let store = try await SQLiteStore.open(path: node + "/metadata.sqlite", logger: TestStores.logger)
        try await store.close()
        let file = try await Backup.node(dataDirectory: node, box: Self.box, into: node + "/backups", at: now)
        let listed = try #require(try Backup.header(of: file).accountsErased)
        #expect(listed.count == 2 && zip(listed, times).allSatisfy { abs($0.timeIntervalSince($1)) < 1 })
        // An unreadable file records nothing rather than stopping the node or its backup.
        try Data("not json".utf8).write(to: URL(fileURLWithPath: node + "/accounts-erased.json"))
        #expect(AccountErasures.read(dataDirectory: node).isEmpty)
    }

    @Test("the backup job writes a backup and deletes those past the policy")
    func job() async throws {
        let work = Self.directory()
        let path = work + "/coordinator.sqlite"
        let store = try await SQLiteStore.open(path: path, logger: TestStores.logger)
        try await Migrations.run(on: store, logger: TestStores.logger)
        let clock = TestClock()
        let expired = try Backup.write(
            .init(kind: .coordinatorSQLite, createdAt: clock.now.addingTimeInterval(-100 * 86_400), source: path, bytes: 1), Data([1]),
            box: Self.box, into: work + "/backups")
        let job = BackupJob(
            database: .sqlite(path: path), box: Self.box, directory: work + "/backups", retention: Self.retention,
            interval: .seconds(3600), now: { clock.now }, logger: TestStores.logger)
        try await job.runOnce()
        try await store.close()
        let names = try FileManager.default.contentsOfDirectory(atPath: work + "/backups")
        #expect(names.count == 1 && names[0].hasPrefix("coordinator-sqlite-") && !FileManager.default.fileExists(atPath: expired))
    }

    @Test("a PostgreSQL coordinator is backed up with pg_dump and restored with pg_restore")
    func postgres() async throws {
        guard let url = TestStores.postgresURL else {
            if TestStores.requirePostgres { Issue.record("CI=true but MERIDIAN_TEST_POSTGRES_URL is not set") }
            return
        }
        guard case .postgres(let base) = try DatabaseLocation(parsing: url) else { return }
        let work = Self.directory()
        let source = "b_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let target = source + "_restored"
        try await TestStores.withAdmin(base) { db in
            try await db.raw("CREATE DATABASE \(unsafeRaw: source)").run()
            try await db.raw("CREATE DATABASE \(unsafeRaw: target)").run()
        }
        let from = { var location = base; location.database = source; return location }()
        let to = { var location = base; location.database = target; return location }()
        let file = try await TestStores.withPostgres(from) { store in
            try await Migrations.run(on: store, logger: TestStores.logger)
            try await Self.record(store)
            try await Self.purge(store, at: Date().addingTimeInterval(-Self.day))
            return try await Backup.coordinator(.postgres(from), box: Self.box, into: work, retention: Self.retention)
        }
        #expect(try Backup.header(of: file).kind == .coordinatorPostgres)
        #expect(try Backup.header(of: file).accountsErased?.count == 1, "the purge, read from the audit log with psql")
        _ = try Backup.restore(file, box: Self.box, to: .postgres(to))
        let count = try await TestStores.withPostgres(to) { try await Self.legalRequestCount($0) }
        #expect(count == 1)
        try await TestStores.withAdmin(base) { db in
            try await db.raw("DROP DATABASE \(unsafeRaw: source) WITH (FORCE)").run()
            try await db.raw("DROP DATABASE \(unsafeRaw: target) WITH (FORCE)").run()
        }
    }
}

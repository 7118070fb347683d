import Foundation
import MeridianCore
import SQLKit
import Testing

@testable import MeridianCoordinator

@Suite("Coordinator backups: encrypted snapshots of SQLite and PostgreSQL, restore, and the backup job")
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
        let file = try await CoordinatorBackup.make(.sqlite(path: path), box: Self.box, into: work + "/backups", retention: Self.retention, at: now)
        try await store.close()
        let header = try Backup.header(of: file)
        #expect(header.kind == .coordinatorSQLite && header.source == path && header.bytes > 0)
        // The purges within the backups period are in the header (to the second: the header's ISO 8601 times).
        let erased = try #require(header.accountsErased)
        #expect(erased.count == 1 && abs(erased[0].timeIntervalSince(now.addingTimeInterval(-3 * Self.day))) < 1)
        let raw = try #require(FileManager.default.contents(atPath: file))
        #expect(raw.range(of: Data("Court".utf8)) == nil, "the snapshot is encrypted")

        await #expect(throws: CoordinatorError(.backupFailed)) { try await CoordinatorBackup.restore(file, box: Self.box, to: .sqlite(path: path)) }
        let other = SecretBox(keyBytes: Data(repeating: 8, count: 32))!
        await #expect(throws: CoreError(.backupWrongKey)) { try await CoordinatorBackup.restore(file, box: other, to: .sqlite(path: work + "/other.sqlite")) }
        var changed = raw
        changed[changed.count - 40] ^= 1
        try changed.write(to: URL(fileURLWithPath: work + "/changed.mrbk"))
        await #expect(throws: CoreError(.backupWrongKey)) {
            try await CoordinatorBackup.restore(work + "/changed.mrbk", box: Self.box, to: .sqlite(path: work + "/changed.sqlite"))
        }

        _ = try await CoordinatorBackup.restore(file, box: Self.box, to: .sqlite(path: work + "/restored.sqlite"))
        let restored = try await SQLiteStore.open(path: work + "/restored.sqlite", logger: TestStores.logger)
        #expect(try await Self.legalRequestCount(restored) == 1)
        try await restored.close()
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
            now: { clock.now }, logger: TestStores.logger)
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
            return try await CoordinatorBackup.make(.postgres(from), box: Self.box, into: work, retention: Self.retention)
        }
        #expect(try Backup.header(of: file).kind == .coordinatorPostgres)
        #expect(try Backup.header(of: file).accountsErased?.count == 1, "the purge, read from the audit log with psql")
        _ = try await CoordinatorBackup.restore(file, box: Self.box, to: .postgres(to))
        let count = try await TestStores.withPostgres(to) { try await Self.legalRequestCount($0) }
        #expect(count == 1)
        try await TestStores.withAdmin(base) { db in
            try await db.raw("DROP DATABASE \(unsafeRaw: source) WITH (FORCE)").run()
            try await db.raw("DROP DATABASE \(unsafeRaw: target) WITH (FORCE)").run()
        }
    }
}

import Foundation
import Testing

@testable import MeridianCore

@Suite("Backup files: deletion after the backups policy, or after an account's deletion that followed them")
struct BackupFileTests {
    static func directory() -> String {
        let path = NSTemporaryDirectory() + "meridian-backups-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static let box = SecretBox(keyBytes: Data(repeating: 7, count: 32))!
    static let retention = Backup.Retention(backups: .days(90), deletedAccounts: .days(45))
    static let day = 86_400.0

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
}

import Crypto
import Foundation
import MeridianCore
import SQLKit
import Testing

@testable import MeridianCoordinator

@Suite("Audit checkpoints on the coordinator, and the service role that cannot cut the log short")
struct AuditCheckpointsTests {
    @Test("a checkpoint is signed once the log has grown and the last is old enough, or 1000 entries on; kept owner-only")
    func signing() async throws {
        try await TestStores.withStore(.sqlite) { store in
            let clock = TestClock()
            let directory = NSTemporaryDirectory() + "checkpoints-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let log = SQLAuditLog(store: store)
            let key = Curve25519.Signing.PrivateKey()
            let checkpoints = AuditCheckpoints(
                audit: log, key: key, dataDirectory: directory, interval: 300, entriesPerCheckpoint: 3, now: { clock.now }, logger: .init(label: "test"))
            #expect(try await checkpoints.runOnce() == nil, "nothing to sign in an empty log")
            try await log.record(AuditEvent("token.create", target: "t1"), by: RepositoryTests.admin, at: clock.now)
            let first = try #require(try await checkpoints.runOnce())
            #expect(first.sequence == 1 && first.isSigned(by: key.publicKey))
            try await log.record(AuditEvent("token.create", target: "t2"), by: RepositoryTests.admin, at: clock.now)
            #expect(try await checkpoints.runOnce() == nil, "grown, but the last checkpoint is fresh")
            for index in 3...4 { try await log.record(AuditEvent("token.create", target: "t\(index)"), by: RepositoryTests.admin, at: clock.now) }
            #expect(try await checkpoints.runOnce()?.sequence == 4, "three entries on")
            try await log.record(AuditEvent("token.create", target: "t5"), by: RepositoryTests.admin, at: clock.now)
            clock.advance(days: 0.01)
            #expect(try await checkpoints.runOnce()?.sequence == 5, "the last one is old")
            #expect(try await checkpoints.runOnce() == nil, "not grown")
            let path = directory + "/" + AuditCheckpoints.fileName
            #expect(try AuditCheckpoints.read(path).map(\.sequence) == [1, 4, 5])
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0)
            // A new coordinator on the same data directory knows the newest.
            let again = AuditCheckpoints(audit: log, key: key, dataDirectory: directory, now: { clock.now }, logger: .init(label: "test"))
            #expect(again.newest?.sequence == 5)
        }
    }

    @Test("exploit: the role the coordinator runs as can append to the audit log, but not delete, change, truncate or unprotect it")
    func serviceRole() async throws {
        try await TestStores.withStore(.postgres) { store in
            let role = "meridian_service_\(UInt32.random(in: 0...UInt32.max))"
            try await store.withSession { db in try await db.raw("CREATE ROLE \(unsafeRaw: role)").run() }
            try await Migrations.grant(serviceRole: role, on: store)
            try await SQLAuditLog(store: store).record(AuditEvent("token.create", target: "t1"), by: RepositoryTests.admin, at: Date())
            let (appended, refused) = try await store.withSession { db in
                var refused: [String] = []
                try await db.raw("SET ROLE \(unsafeRaw: role)").run()
                let appended = (try? await SQLAuditLog.append(AuditEvent("customer.read", target: "c"), by: RepositoryTests.admin, at: Date(), on: db)) != nil
                for statement in [
                    "DELETE FROM audit_log", "UPDATE audit_log SET action = 'x'", "TRUNCATE audit_log", "DROP TRIGGER audit_log_no_change ON audit_log",
                    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                ] {
                    do {
                        try await db.raw(SQLQueryString(statement)).run()
                    } catch {
                        refused.append(statement)
                    }
                }
                try await db.raw("RESET ROLE").run()
                try await db.raw("DROP OWNED BY \(unsafeRaw: role)").run()
                try await db.raw("DROP ROLE \(unsafeRaw: role)").run()
                return (appended, refused)
            }
            #expect(appended)
            #expect(refused.count == 5)
            #expect(try await SQLAuditLog(store: store).entries(after: 0, limit: 10).count == 2)
        }
    }
}

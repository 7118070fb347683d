import Foundation
import MeridianCore
import SQLKit
import Testing

@testable import MeridianCoordinator

/// The repositories against both engines: the same assertions must hold on SQLite and PostgreSQL.
@Suite("Repositories on SQLite and PostgreSQL")
struct RepositoryTests {
    static let admin = AuditActor(id: "tok_admin", role: "admin", sourceIP: "192.0.2.1")

    static func customer(_ name: String, domains: [String], region: String? = nil, at date: Date) -> CustomerRecord {
        CustomerRecord(
            id: ResourceID.make(prefix: "cus", at: date), name: name, contactEmail: "ops@\(name).example",
            region: region.flatMap(RegionID.init), domains: domains.map(CustomerDomain.init(newDomain:)),
            webhookURL: "https://\(name).example/hook", webhookMode: .sync, webhookSecretSealed: "v1:sealed",
            metadataRedactions: [.subject], status: .active, createdAt: date, updatedAt: date, closedAt: nil, purgeAfter: nil)
    }

    @Test("customers: create, find, paginate, and a domain belongs to one account", arguments: StoreKind.allCases)
    func customers(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let repository = SQLCustomerRepository(store: store)
            let clock = TestClock()
            var ids: [String] = []
            for index in 0..<5 {
                clock.advance(days: 0.001)
                let record = Self.customer("c\(index)", domains: ["c\(index).example"], at: clock.now)
                try await repository.create(record, by: Self.admin)
                ids.append(record.id)
            }
            let found = try #require(try await repository.find(ids[0]))
            #expect(found.domains.map(\.domain) == ["c0.example"])
            #expect(found.metadataRedactions == [.subject])

            let first = try await repository.list(after: nil, limit: 2, status: nil, only: nil)
            let second = try await repository.list(after: first.last?.id, limit: 2, status: nil, only: nil)
            #expect(first.map(\.id) == Array(ids[0..<2]))
            #expect(second.map(\.id) == Array(ids[2..<4]))
            #expect(try await repository.list(after: nil, limit: 10, status: nil, only: [ids[3]]).map(\.id) == [ids[3]])

            let thief = Self.customer("thief", domains: ["c1.example"], at: clock.now)
            await #expect(throws: RepositoryError.domainTaken("c1.example")) { try await repository.create(thief, by: Self.admin) }
            #expect(try await repository.find(thief.id) == nil)
        }
    }

    @Test("customers: update domains, change region with history, close, reopen and purge", arguments: StoreKind.allCases)
    func lifecycle(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let repository = SQLCustomerRepository(store: store)
            let clock = TestClock()
            let record = Self.customer("acme", domains: ["a.example", "b.example"], at: clock.now)
            try await repository.create(record, by: Self.admin)

            var changes = CustomerChanges()
            changes.domains = ["b.example", "c.example"]
            changes.name = "Acme Ltd"
            let updated = try await repository.update(record.id, changes, at: clock.now, by: Self.admin)
            #expect(updated.domains.map(\.domain) == ["b.example", "c.example"])
            #expect(updated.name == "Acme Ltd")

            _ = try await repository.setRegion(record.id, to: RegionID("eu"), reason: "GDPR", at: clock.now, by: Self.admin)
            _ = try await repository.setRegion(record.id, to: nil, reason: nil, at: clock.now, by: Self.admin)
            let history = try await repository.regionHistory(record.id)
            #expect(history.map(\.to) == [RegionID("eu"), nil])
            #expect(history.first?.reason == "GDPR")

            let closed = try await repository.close(record.id, at: clock.now, purgeAfter: clock.now.addingTimeInterval(86_400), reason: "moving", by: Self.admin)
            #expect(closed.status == .closed)
            await #expect(throws: RepositoryError.self) {
                _ = try await repository.close(record.id, at: clock.now, purgeAfter: clock.now, reason: nil, by: Self.admin)
            }
            #expect(try await repository.reopen(record.id, at: clock.now, by: Self.admin).status == .active)
            _ = try await repository.close(record.id, at: clock.now, purgeAfter: clock.now.addingTimeInterval(86_400), reason: nil, by: Self.admin)

            #expect(try await repository.purgeClosed(dueBy: clock.now, by: .system("retention")).isEmpty)
            clock.advance(days: 1.01)
            #expect(try await repository.purgeClosed(dueBy: clock.now, by: .system("retention")) == [record.id])
            #expect(try await repository.find(record.id) == nil)
            // The purged account's domains are free again.
            try await repository.create(Self.customer("next", domains: ["b.example"], at: clock.now), by: Self.admin)
        }
    }

    @Test("tokens are found by hash only, and revocation sticks", arguments: StoreKind.allCases)
    func tokens(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let repository = SQLTokenRepository(store: store)
            let secret = BearerToken.generate()
            let date = Date()
            let token = TokenRecord(
                id: ResourceID.make(prefix: "tok"), name: "ops", role: .support, customerID: nil, secretHash: secret.hash,
                createdAt: date, createdBy: "test", expiresAt: date.addingTimeInterval(60), revokedAt: nil)
            #expect(try await repository.anyActiveAdmin(at: date) == false)
            try await repository.create(token, by: Self.admin)
            var admin = token
            (admin.id, admin.role, admin.secretHash) = (ResourceID.make(prefix: "tok"), .admin, BearerToken.generate().hash)
            try await repository.create(admin, by: Self.admin)
            let activeNow = try await repository.anyActiveAdmin(at: date)
            let activeLater = try await repository.anyActiveAdmin(at: date.addingTimeInterval(61))
            #expect(activeNow && !activeLater)
            let found = try #require(try await repository.find(secretHash: secret.hash))
            #expect(found.isActive(at: date) && !found.isActive(at: date.addingTimeInterval(61)))
            #expect(try await repository.find(secretHash: BearerToken.generate().hash) == nil)
            _ = try await repository.revoke(token.id, at: date, by: Self.admin)
            #expect(try await repository.find(id: token.id)?.isActive(at: date) == false)
            await #expect(throws: RepositoryError.self) { _ = try await repository.revoke(token.id, at: date, by: Self.admin) }
        }
    }

    @Test("the audit log chains every change, refuses updates and deletes, and a tampered row is found", arguments: StoreKind.allCases)
    func auditChain(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let customers = SQLCustomerRepository(store: store)
            let audit = SQLAuditLog(store: store)
            let date = Date()
            let record = Self.customer("acme", domains: ["a.example"], at: date)
            try await customers.create(record, by: Self.admin)
            _ = try await customers.setRegion(record.id, to: RegionID("us"), reason: nil, at: date, by: Self.admin)
            try await audit.record(AuditEvent("customer.read", target: record.id), by: Self.admin, at: date)

            let entries = try await audit.entries(after: 0, limit: 100)
            #expect(entries.map(\.action) == ["customer.create", "customer.region.set", "customer.read"])
            #expect(entries.allSatisfy { $0.sourceIP == "192.0.2.1" && $0.actorID == "tok_admin" })
            #expect(AuditChain.verify(entries).firstBreak == nil)

            // Append-only in the database itself.
            await #expect(throws: (any Error).self) {
                try await store.withSession { try await $0.raw("UPDATE audit_log SET action = 'x' WHERE sequence = 2").run() }
            }
            await #expect(throws: (any Error).self) {
                try await store.withSession { try await $0.raw("DELETE FROM audit_log WHERE sequence = 3").run() }
            }

            // Someone with the power to bypass the trigger rewrites entry 2: the chain shows it.
            try await store.withSession { db in
                switch kind {
                case .sqlite: try await db.raw("DROP TRIGGER audit_log_no_update").run()
                case .postgres: try await db.raw("ALTER TABLE audit_log DISABLE TRIGGER USER").run()
                }
                try await db.raw("UPDATE audit_log SET detail = '{\"to\":\"eu\"}' WHERE sequence = 2").run()
            }
            let tampered = try await audit.entries(after: 0, limit: 100)
            #expect(AuditChain.verify(tampered).firstBreak?.sequence == 2)
        }
    }

    @Test("support grants are active until they expire or are revoked", arguments: StoreKind.allCases)
    func grants(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let customers = SQLCustomerRepository(store: store)
            let grants = SQLAccessGrantRepository(store: store)
            let date = Date()
            let record = Self.customer("acme", domains: [], at: date)
            try await customers.create(record, by: Self.admin)
            let grant = AccessGrantRecord(
                id: ResourceID.make(prefix: "grt"), customerID: record.id, role: "support", reason: "ticket 42",
                createdAt: date, createdBy: "tok_c", expiresAt: date.addingTimeInterval(3600), revokedAt: nil)
            try await grants.create(grant, by: Self.admin)
            #expect(try await grants.customersGranting("support", at: date) == [record.id])
            #expect(try await grants.customersGranting("support", at: date.addingTimeInterval(3601)).isEmpty)
            _ = try await grants.revoke(grant.id, customerID: record.id, at: date, by: Self.admin)
            #expect(try await grants.customersGranting("support", at: date).isEmpty)
        }
    }

    @Test("migrations are idempotent", arguments: StoreKind.allCases)
    func migrationsTwice(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let applied = try await Migrations.run(on: store, logger: TestStores.logger)
            #expect(applied.isEmpty)
        }
    }
}

import Foundation
import MeridianCore
import Synchronization
import Testing

@testable import MeridianCoordinator

/// The domain-proof job against both engines. The TXT answers come from a table standing in for DNS (the system
/// test `test_tenant_boundaries.py` asks a real DNS server through the coordinator's resolver).
@Suite("Domain ownership proofs: pending until proved, re-checked, suspended after the grace period")
struct DomainProofTests {
    static let grace: TimeInterval = 72 * 3600

    @Test("a domain is routed once its record appears, suspended when it stays away past the grace, and back with it",
          arguments: StoreKind.allCases)
    func lifecycle(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let customers = SQLCustomerRepository(store: store)
            let clock = TestClock()
            var record = RepositoryTests.customer("acme", domains: ["acme.example", "by-hand.example"], at: clock.now)
            record.eventsURL = "https://events.acme.example/in"
            try await customers.create(record, by: RepositoryTests.admin)
            let token = try #require(record.domains.first { $0.domain == "acme.example" }).proofRecord
            let published = Mutex<[String: [String]]>([:])
            let answering = Mutex(true)
            let job = DomainProofJob(
                customers: customers,
                lookup: { name in
                    guard answering.withLock({ $0 }) else { throw DNSLookupError(.timeout, "no answer") }
                    return published.withLock { $0[name] ?? [] }
                },
                recheckAfter: 86_400, grace: Self.grace, service: TestStores.regions.service, now: { clock.now },
                logger: .init(label: "test"))
            func state(_ domain: String) async throws -> CustomerDomain {
                try #require(try await customers.find(record.id)?.domains.first { $0.domain == domain })
            }

            #expect(try await state("acme.example").state == .pending)
            #expect(try await job.runOnce() == 0)
            published.withLock { $0["_meridian.acme.example"] = ["v=spf1 -all", token] }
            #expect(try await job.runOnce() == 1)
            var acme = try await state("acme.example")
            #expect(acme.state == .verified && acme.verifiedBy == "dns" && acme.isRouted)

            // An operator proves the other by hand; DNS checks then leave it alone.
            var byHand = try await state("by-hand.example")
            (byHand.state, byHand.verifiedBy) = (.verified, "operator:tok_admin")
            _ = try await customers.saveDomainProof(record.id, byHand, event: .verified, detail: ["reason": "phone"], notices: [], at: clock.now, by: RepositoryTests.admin)

            // The record goes: not re-checked for a day; then missed (notice), suspended only after the grace.
            published.withLock { $0 = [:] }
            clock.advance(days: 0.5)
            _ = try await job.runOnce()
            #expect(try await state("acme.example").failingSince == nil)
            clock.advance(days: 0.6)
            _ = try await job.runOnce()
            acme = try await state("acme.example")
            #expect(acme.state == .verified && acme.failingSince == clock.now)
            // A resolver that does not answer changes nothing.
            answering.withLock { $0 = false }
            clock.advance(days: 3.5)
            #expect(try await job.runOnce() == 0)
            #expect(try await state("acme.example").state == .verified)
            answering.withLock { $0 = true }
            #expect(try await job.runOnce() == 1)
            #expect(try await state("acme.example").state == .suspended)
            #expect(try await state("by-hand.example").state == .verified)

            let outbox = try await NotificationOutbox(store: store).list(customerID: record.id)
            let emails = outbox.filter { $0.channel == .email }
            #expect(Set(emails.map(\.eventType)) == ["domain.proof_missing", "domain.suspended"])
            #expect(emails.allSatisfy { $0.body.contains(token) })
            // The account has an events URL: each change is also a domain.unverified event for it.
            let events = try outbox.filter { $0.channel == .events }.map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any])
            }
            #expect(events.count == 2 && events.allSatisfy { $0["type"] as? String == "domain.unverified" })
            let reasons = events.compactMap { ($0["data"] as? [String: Any])?["reason"] as? String }
            #expect(Set(reasons) == ["proof_missing", "suspended"])
            #expect(events.contains { ($0["data"] as? [String: Any])?["suspends_at"] != nil })
            let actions = try await SQLAuditLog(store: store).entries(after: 0, limit: 100).map(\.action)
            #expect(actions.filter { $0.hasPrefix("domain.") } == ["domain.verified", "domain.verified", "domain.proof_missing", "domain.suspended"])

            // Back with its record: routed again.
            published.withLock { $0["_meridian.acme.example"] = [token] }
            #expect(try await job.runOnce() == 1)
            #expect(try await state("acme.example").isRouted)
        }
    }

    @Test("meridian up's repository proves reserved test names as they are added, and nothing else")
    func sandbox() async throws {
        try await TestStores.withStore(.sqlite) { store in
            let customers = SQLCustomerRepository(store: store, provesReservedTestNames: true)
            let record = RepositoryTests.customer("demo", domains: ["demo.example", "demo.test", "real-bank.com"], at: Date())
            try await customers.create(record, by: RepositoryTests.admin)
            let domains = try #require(try await customers.find(record.id)).domains
            #expect(domains.filter(\.isRouted).map(\.domain) == ["demo.example", "demo.test"])
            #expect(domains.first { $0.domain == "demo.test" }?.verifiedBy == "sandbox")
            #expect(CustomerDomain.isReservedTestName("a.localhost") && !CustomerDomain.isReservedTestName("example.com"))
        }
    }
}

@Suite("Webhook secret rotation: the old secret signs beside the new until its overlap ends")
struct SecretRotationTests {
    @Test("the previous secret is in the bundle during the overlap and gone after it, both audited", arguments: StoreKind.allCases)
    func overlap(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let customers = SQLCustomerRepository(store: store)
            let clock = TestClock()
            let secrets = ConfigCompilerTests.secrets
            var record = try ConfigCompilerTests.customer("cus_rot", "rot.example", region: "eu")
            record.webhookSecretSealed = try secrets.seal(ConfigCompilerTests.secret)
            try await customers.create(record, by: RepositoryTests.admin)
            let next = WebhookSecret.generate()
            _ = try await customers.rotateWebhookSecret(
                "cus_rot", to: try secrets.seal(next), overlapUntil: clock.now.addingTimeInterval(3600), at: clock.now, by: RepositoryTests.admin)
            let compiler = ConfigCompiler(catalog: TestStores.regions, secrets: secrets)
            func webhook() async throws -> NodeBundle.Webhook {
                let bundles = try compiler.compile(try await customers.allActive(), version: 1)
                return try #require(bundles.first { $0.region.rawValue == "eu" }?.customers.first?.webhook)
            }
            let during = try await webhook()
            #expect(during.secret == next && during.previousSecret == ConfigCompilerTests.secret)
            #expect(try await customers.expirePreviousSecrets(at: clock.now.addingTimeInterval(3599), by: .system("test")).isEmpty)
            #expect(try await customers.expirePreviousSecrets(at: clock.now.addingTimeInterval(3600), by: .system("test")) == ["cus_rot"])
            #expect(try await webhook().previousSecret == nil)
            let actions = try await SQLAuditLog(store: store).entries(after: 0, limit: 100).map(\.action)
            #expect(actions.contains("customer.webhook_secret.rotate") && actions.contains("customer.webhook_secret.previous_expired"))
        }
    }
}

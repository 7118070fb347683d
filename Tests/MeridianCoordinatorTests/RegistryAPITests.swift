import Crypto
import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Sub-processor registry, objections, DPAs and the outbox, on SQLite and PostgreSQL")
struct RegistryAPITests {
    /// A sub-processor that runs the optional content analysis step in the EU and the US.
    static func analysisService(_ name: String = "Analysis Co") -> [String: Any] {
        [
            "name": name, "legal_entity": "\(name) Ltd", "purpose": "Analysis and content detection", "data_categories": ["message text"],
            "regions": ["eu", "us"], "locations": ["Ireland"], "transfer_mechanism": "EU SCCs", "dpa_in_place": true,
            "egress_hosts": ["analysis.example"], "steps": ["content_analysis"],
        ]
    }

    nonisolated(unsafe) static let dpa: [String: Any] = [
        "version": "2026-05", "signed_on": "2026-05-01", "signatory": "Jane Roe, CTO", "document_sha256": String(repeating: "ab", count: 32),
    ]

    /// The bundle of `region` in the newest published version, verified.
    static func bundle(_ harness: APITestHarness, _ region: String, opened: Bool = false) async throws -> NodeBundle {
        try #require(
            try await harness.coordinator.config.newest(
                for: RegionID(region)!, key: TestStores.bundleKey.publicKey,
                regionKey: opened ? RegionKeys(secrets: harness.coordinator.secrets).privateKey(for: RegionID(region)!) : nil))
    }

    static func steps(_ bundle: NodeBundle, _ customer: String) -> [ProcessingStep]? {
        bundle.customers.first { $0.id == customer }?.steps
    }

    @Test("a new sub-processor is in the feed at once and in bundles only after its notice period; an objection leaves its step out",
        arguments: StoreKind.allCases)
    func noticeAndObjection(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            let publisher = harness.coordinator.publisher
            try await client.json(.post, "/v1/customers/\(harness.customerID)/dpa", token: dpo, body: Self.dpa, expect: .created)

            var early = Self.analysisService()
            early["effective_from"] = ISO8601DateFormatter().string(from: harness.clock.now.addingTimeInterval(10 * 86_400))
            let refused = try await client.json(.post, "/v1/subprocessors", token: dpo, body: early, expect: .unprocessableContent)
            #expect(refused["field"] as? String == "effective_from")

            let created = try await client.json(.post, "/v1/subprocessors", token: dpo, body: Self.analysisService(), expect: .created)
            let id = try #require(created["id"] as? String)
            #expect(id == "analysis-co" && created["state"] as? String == "announced")
            #expect(created["effective_from"] as? String == ISO8601DateFormatter().string(from: harness.clock.now.addingTimeInterval(30 * 86_400)))

            // Public at once: the feed and the JSON announce it with its date.
            let feed = String(buffer: try await client.send(.get, "/subprocessors.atom", token: nil).body)
            #expect(feed.contains("<title>New sub-processor: Analysis Co, effective ") && feed.contains("urn:meridian:meridian.example:subprocessor:analysis-co:1"))
            let list = try await client.json(.get, "/subprocessors.json", token: nil)
            #expect((list["subprocessors"] as? [[String: Any]])?.first?["state"] as? String == "announced")

            // Announced to the customer with a DPA, by e-mail and webhook event; not to the one without.
            let outbox = try await client.json(.get, "/v1/notifications", token: harness.tokens[.auditor])
            let notices = try #require(outbox["items"] as? [[String: Any]])
            #expect(Set(notices.map { $0["channel"] as? String }) == ["email", "webhook"])
            #expect(notices.allSatisfy { $0["customer_id"] as? String == harness.customerID && $0["event_type"] as? String == "subprocessor.announced" })

            // Not in bundles during the notice period.
            await publisher.settled()
            try await publisher.publish()
            var eu = try await Self.bundle(harness, "eu")
            #expect(eu.subprocessors.isEmpty && Self.steps(eu, harness.customerID) == [])

            // The customer objects within the window.
            let objection = try await client.json(
                .post, "/v1/customers/\(harness.customerID)/objections", token: harness.tokens[.customer], body: ["subprocessor_id": id, "reason": "no AI"],
                expect: .created)
            #expect(objection["skipped_steps"] as? [String] == ["content_analysis"] && objection["standing"] as? Bool == true)
            try await client.json(
                .post, "/v1/customers/\(harness.customerID)/objections", token: harness.tokens[.customer], body: ["subprocessor_id": id], expect: .conflict)
            try await client.json(
                .post, "/v1/customers/\(harness.customerID)/objections", token: harness.tokens[.customer], body: ["subprocessor_id": "nope"],
                expect: .unprocessableContent)

            // After the notice period: in force in eu and us, not in ap; the objector's entry leaves the step out.
            harness.clock.advance(days: 31)
            await publisher.settled()
            try await publisher.publish()
            eu = try await Self.bundle(harness, "eu")
            #expect(eu.subprocessors.map(\.id) == [id] && eu.subprocessors.first?.egressHosts == ["analysis.example"])
            #expect(Self.steps(eu, harness.customerID) == [] && Self.steps(eu, harness.otherCustomerID) == [.contentAnalysis])
            let ap = try await Self.bundle(harness, "ap")
            #expect(ap.subprocessors.isEmpty && ap.customers.allSatisfy(\.steps.isEmpty))

            // Withdrawn: the step runs for the customer again from the next version.
            let objectionID = try #require(objection["id"] as? String)
            let withdrawn = try await client.json(
                .delete, "/v1/customers/\(harness.customerID)/objections/\(objectionID)", token: harness.tokens[.customer])
            #expect(withdrawn["standing"] as? Bool == false)
            await publisher.settled()
            try await publisher.publish()
            #expect(Self.steps(try await Self.bundle(harness, "eu"), harness.customerID) == [.contentAnalysis])

            // Widening needs a new notice; retiring stops it at once, and both are versions with who and when.
            let widen = try await client.json(.patch, "/v1/subprocessors/\(id)", token: dpo, body: ["regions": ["eu", "us", "ap"]], expect: .unprocessableContent)
            #expect(widen["field"] as? String == "regions")
            let retired = try await client.json(
                .patch, "/v1/subprocessors/\(id)", token: harness.tokens[.admin],
                body: ["effective_until": ISO8601DateFormatter().string(from: harness.clock.now)])
            #expect(retired["state"] as? String == "retired" && retired["version"] as? Int == 2)
            await publisher.settled()
            try await publisher.publish()
            #expect(try await Self.bundle(harness, "eu").subprocessors.isEmpty)
            let history = try await client.json(.get, "/v1/subprocessors/\(id)", token: harness.tokens[.customer])
            let versions = try #require(history["versions"] as? [[String: Any]])
            #expect(versions.map { $0["change"] as? String } == ["retired", "added"])
            #expect(versions.last?["changed_by"] as? String != nil)

            let actions = try await harness.coordinator.audit.entries(after: 0, limit: 1000).map(\.action)
            for action in ["dpa.record", "subprocessor.create", "objection.create", "objection.withdraw", "subprocessor.update"] {
                #expect(actions.contains(action), "\(action) missing")
            }
        }
    }

    @Test("a DPA keeps the annex as signed; bad hashes and future dates are refused; the annex is an HTML document")
    func dpaAnnex() async throws {
        try await APITestHarness.run { harness, client in
            let dpo = harness.tokens[.dpo]!
            let path = "/v1/customers/\(harness.customerID)/dpa"
            try await client.json(.post, "/v1/subprocessors", token: dpo, body: Self.analysisService("First Co"), expect: .created)
            var bad = Self.dpa
            bad["document_sha256"] = "not-a-hash"
            #expect(try await client.json(.post, path, token: dpo, body: bad, expect: .unprocessableContent)["field"] as? String == "document_sha256")
            bad = Self.dpa
            bad["signed_on"] = "2099-01-01"
            #expect(try await client.json(.post, path, token: dpo, body: bad, expect: .unprocessableContent)["field"] as? String == "signed_on")
            try await client.json(.post, path, token: harness.tokens[.customer], body: Self.dpa, expect: .forbidden)
            #expect((try await client.send(.get, path + "/annex", token: dpo)).status == .notFound)

            let recorded = try await client.json(.post, path, token: dpo, body: Self.dpa, expect: .created)
            #expect((recorded["annex"] as? [[String: Any]])?.map { $0["id"] as? String } == ["first-co"])
            try await client.json(.post, "/v1/subprocessors", token: dpo, body: Self.analysisService("Second Co"), expect: .created)
            let status = try await client.json(.get, path, token: harness.tokens[.customer])
            let current = try #require(status["current"] as? [String: Any])
            #expect((current["annex"] as? [[String: Any]])?.map { $0["id"] as? String } == ["first-co"], "the annex is as it stood when signed")

            let annex = try await client.send(.get, path + "/annex", token: harness.tokens[.customer])
            let html = String(buffer: annex.body)
            #expect(annex.status == .ok && annex.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains(#"<tr data-id="first-co">"#) && !html.contains("second-co"))
            #expect(html.contains("Jane Roe, CTO") && html.contains(String(repeating: "ab", count: 32)))
        }
    }

    @Test("the outbox sends e-mail through the smarthost and retries a failing webhook with the error kept")
    func outboxRetries() async throws {
        // A deployment that lets webhooks be http on loopback, as `meridian up` does.
        try await APITestHarness.run(egress: .sandbox) { harness, client in
            try await client.json(.post, "/v1/customers/\(harness.customerID)/dpa", token: harness.tokens[.dpo], body: Self.dpa, expect: .created)
            try await client.json(.post, "/v1/subprocessors", token: harness.tokens[.dpo], body: Self.analysisService(), expect: .created)
            // No smarthost, and nothing listens where the webhook points: both fail, and say why.
            try await client.json(
                .patch, "/v1/customers/\(harness.customerID)", token: harness.tokens[.admin], body: ["webhook": ["url": "http://127.0.0.1:9/hook", "mode": "queued"]])
            let job = OutboxJob(
                outbox: harness.coordinator.registry.outbox, customers: harness.coordinator.customers, secrets: harness.coordinator.secrets,
                smarthost: nil, egress: harness.coordinator.egress, sender: "privacy@meridian.example", hostname: "test", webhookTimeout: .milliseconds(300), now: { harness.clock.now },
                logger: .init(label: "test"))
            #expect(try await job.runOnce() == 0)
            let items = try #require(try await client.json(.get, "/v1/notifications", token: harness.tokens[.admin])["items"] as? [[String: Any]])
            #expect(items.allSatisfy { $0["status"] as? String == "pending" && $0["attempts"] as? Int == 1 && $0["last_error"] is String })
            #expect(items.contains { ($0["last_error"] as? String)?.contains("no smarthost") == true })
            // Not due again until the backoff has passed.
            #expect(try await harness.coordinator.registry.outbox.due(at: harness.clock.now).isEmpty)
            #expect(try await harness.coordinator.registry.outbox.due(at: harness.clock.now.addingTimeInterval(31)).count == 2)
        }
    }

    @Test("an event goes to the account's events URL, never to its webhook; without an events URL it says so")
    func eventsChannel() async throws {
        try await APITestHarness.run(egress: .sandbox) { harness, client in
            let outbox = harness.coordinator.registry.outbox
            let event = DeliveryEvent(.domainUnverified, at: harness.clock.now, data: [("domain", "acme.example")])
            try await harness.coordinator.store.transaction { db in
                try await NotificationOutbox.insert(
                    Notification(
                        id: event.id, customerID: harness.customerID, channel: .events, eventType: event.kind.rawValue, subject: "acme.example",
                        body: String(decoding: event.json(), as: UTF8.self), createdAt: harness.clock.now), on: db)
            }
            let job = OutboxJob(
                outbox: outbox, customers: harness.coordinator.customers, secrets: harness.coordinator.secrets, smarthost: nil,
                egress: harness.coordinator.egress, sender: "privacy@meridian.example", hostname: "test", webhookTimeout: .milliseconds(300),
                now: { harness.clock.now }, logger: .init(label: "test"))
            _ = try await job.runOnce()
            var item = try #require(try await outbox.list(customerID: harness.customerID).first { $0.id == event.id })
            #expect(item.status == .pending && item.lastError?.contains("no events URL") == true)
            // With one (nothing listens there), the error is the connection's.
            try await client.json(.patch, "/v1/customers/\(harness.customerID)", token: harness.tokens[.admin], body: ["events_url": "http://127.0.0.1:9/events"])
            try await client.json(
                .patch, "/v1/customers/\(harness.customerID)", token: harness.tokens[.admin], body: ["events_url": "https://u:p@events.example/in"],
                expect: .unprocessableContent)
            harness.clock.advance(days: 1.0 / 24)
            _ = try await job.runOnce()
            item = try #require(try await outbox.list(customerID: harness.customerID).first { $0.id == event.id })
            #expect(item.attempts == 2 && item.lastError?.contains("no events URL") == false)
            #expect(try await client.json(.get, "/v1/customers/\(harness.customerID)", token: harness.tokens[.admin])["events_url"] as? String == "http://127.0.0.1:9/events")
            try await client.json(.patch, "/v1/customers/\(harness.customerID)", token: harness.tokens[.admin], body: ["events_url": ""])
            #expect(try await client.json(.get, "/v1/customers/\(harness.customerID)", token: harness.tokens[.admin])["events_url"] == nil)
        }
    }

    @Test("a notice e-mail cannot grow a header from a value: CR, LF and other control characters are refused")
    func noHeaderInjection() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000)
        var notice = Notification(
            id: "ntf_1", customerID: "cus_1", channel: .email, eventType: "subprocessor.announced",
            subject: "New sub-processor: Acme\r\nBcc: spy@evil.example", body: "Text.", createdAt: date)
        #expect(throws: CoordinatorError(.notificationUndelivered)) {
            try OutboxJob.email(notice, from: "privacy@meridian.example", to: "ops@acme.example", at: date, hostname: "test")
        }
        #expect(throws: CoordinatorError(.notificationUndelivered)) {
            try OutboxJob.email(notice, from: "privacy@meridian.example", to: "ops@acme.example\nBcc: x@y", at: date, hostname: "test")
        }
        notice.subject = "New sub-processor: Acme\u{1}"
        #expect(throws: CoordinatorError(.notificationUndelivered)) {
            try OutboxJob.email(notice, from: "privacy@meridian.example", to: "ops@acme.example", at: date, hostname: "test")
        }
        notice.subject = "New sub-processor: Acme Analytics\tLtd"
        let message = try OutboxJob.email(notice, from: "privacy@meridian.example", to: "ops@acme.example", at: date, hostname: "test")
        #expect(message.hasPrefix("From: privacy@meridian.example\r\nTo: ops@acme.example\r\nSubject: New sub-processor: Acme Analytics\tLtd\r\n"))
        #expect(!message.contains("Bcc"))
    }
}

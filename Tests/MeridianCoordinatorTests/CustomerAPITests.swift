import Foundation
import HTTPTypes
import HummingbirdTesting
import MeridianAPI
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Admin API: customers, pinning, DNS, close and reopen, on SQLite and PostgreSQL")
struct CustomerAPITests {
    @Test("create returns the webhook secret once; reads never show it; the secret is sealed at rest", arguments: StoreKind.allCases)
    func createAndRead(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let admin = harness.tokens[.admin]!
            let created = try await client.call(
                .post, "/v1/customers", token: admin, body: APITestHarness.typedCustomer("newco", region: "eu"),
                as: Components.Schemas.CreatedCustomer.self, expect: .created)
            let secret = created.webhookSecret
            #expect(secret.hasPrefix("whsec_"))
            let id = created.customer.id
            let read = try await client.send(.get, "/v1/customers/\(id)", token: admin)
            let text = String(buffer: read.body)
            #expect(read.status == .ok && !text.contains(secret))
            #expect(try await client.call(.get, "/v1/customers/\(id)", token: admin, as: Components.Schemas.Customer.self).region == "eu")
            let stored = try #require(try await harness.coordinator.customers.find(id))
            #expect(!stored.webhookSecretSealed.contains(secret))
            #expect(try harness.coordinator.secrets.open(stored.webhookSecretSealed) == secret)
        }
    }

    @Test("bad input gets a 4xx problem naming the field, never a 500", arguments: StoreKind.allCases)
    func badInput(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let admin = harness.tokens[.admin]!
            func create(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
                var body = APITestHarness.sampleCustomer("fresh")
                change(&body)
                return body
            }
            let cases: [(body: [String: Any]?, raw: String?, status: Int, field: String?)] = [
                (nil, "{\"name\": ", 400, nil),
                (nil, "[1,2]", 400, nil),
                (create { $0["region"] = "mars" }, nil, 422, "region"),
                (create { $0["contact_email"] = "not-an-address" }, nil, 422, "contact_email"),
                (create { $0["domains"] = ["ok.example", "bad_domain"] }, nil, 422, "domains[1]"),
                (create { $0["domains"] = ["acme.example"] }, nil, 409, "domains"),
                (create { $0["webhook"] = ["url": "ftp://x.example", "mode": "sync"] }, nil, 422, "webhook.url"),
                (create { $0["webhook"] = ["url": "https://x.example", "mode": "sometimes"] }, nil, 400, "webhook.mode"),
                (create { $0["colour"] = "blue" }, nil, 400, "colour"),
                (create { $0.removeValue(forKey: "contact_email") }, nil, 400, "contact_email"),
                (create { $0["name"] = 42 }, nil, 400, "name"),
                (create { $0["name"] = "   " }, nil, 422, "name"),
                (nil, "{\"name\":\"" + String(repeating: "x", count: 1_100_000) + "\"}", 413, nil),
            ]
            for testCase in cases {
                let problem = try await client.json(
                    .post, "/v1/customers", token: admin, body: testCase.body, raw: testCase.raw,
                    expect: .init(code: testCase.status))
                #expect(problem["status"] as? Int == testCase.status)
                #expect((problem["detail"] as? String)?.isEmpty == false)
                if let field = testCase.field { #expect(problem["field"] as? String == field, "\(problem)") }
            }
            let page = try await client.json(.get, "/v1/customers", token: admin)
            #expect((page["items"] as? [Any])?.count == 2, "no bad request created anything")
            try await client.json(.get, "/v1/customers?limit=0", token: admin, expect: .unprocessableContent)
            try await client.json(.get, "/v1/customers?limit=abc", token: admin, expect: .badRequest)
            try await client.json(.get, "/v1/customers/cus_nope", token: admin, expect: .notFound)
        }
    }

    @Test("missing, malformed, revoked and expired tokens get 401", arguments: StoreKind.allCases)
    func authentication(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            try await client.json(.get, "/v1/customers", token: nil, expect: .unauthorized)
            try await client.json(.get, "/v1/customers", token: "mrd_" + String(repeating: "A", count: 43), expect: .unauthorized)
            try await client.json(.get, "/v1/customers", token: "garbage", expect: .unauthorized)
            let admin = harness.tokens[.admin]!
            // The scheme in any case and blanks around the token are accepted; another scheme or no token is not.
            for (header, status) in [
                ("bearer \(admin)", HTTPResponse.Status.ok), ("BEARER \t\(admin) ", .ok), ("Basic \(admin)", .unauthorized),
                ("Bearer", .unauthorized), ("Bearer \(admin)x", .unauthorized), ("Bearer \(admin.dropLast())", .unauthorized),
            ] {
                let response = try await client.executeRequest(uri: "/v1/customers", method: .get, headers: [.authorization: header], body: nil)
                #expect(response.status == status, "Authorization: \(header.replacingOccurrences(of: admin, with: "<token>"))")
            }
            let created = try await client.json(.post, "/v1/tokens", token: admin, body: ["name": "short", "role": "dpo", "expires_in_days": 1], expect: .created)
            let secret = created["secret"] as! String
            let id = (created["token"] as! [String: Any])["id"] as! String
            try await client.json(.get, "/v1/customers", token: secret)
            harness.clock.advance(days: 2)
            let expired = try await client.json(.get, "/v1/customers", token: secret, expect: .unauthorized)
            #expect((expired["detail"] as? String)?.contains("expired") == true)
            try await client.json(.delete, "/v1/tokens/\(id)", token: admin)
            try await client.json(.delete, "/v1/tokens/\(id)", token: admin, expect: .conflict)
            let listed = try await client.send(.get, "/v1/tokens", token: admin)
            #expect(!String(buffer: listed.body).contains("mrd_"), "token secrets never appear after creation")
        }
    }

    @Test("pinning is recorded with its history and changes the DNS records", arguments: StoreKind.allCases)
    func pinningAndDNS(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let admin = harness.tokens[.admin]!
            let id = harness.customerID
            let dnsBefore = try await client.json(.get, "/v1/customers/\(id)/dns", token: admin)
            #expect(dnsBefore["mx_host"] as? String == "mx.meridian.example")
            let pin = try await client.json(.put, "/v1/customers/\(id)/region", token: harness.tokens[.customer], body: ["region": "ap", "reason": "latency"])
            #expect(pin["region"] as? String == "ap" && pin["mx_host"] as? String == "ap.mx.meridian.example")
            try await client.json(.put, "/v1/customers/\(id)/region", token: admin, body: ["region": NSNull()])
            let history = try await client.json(.get, "/v1/customers/\(id)/region", token: admin)["history"] as? [[String: Any]]
            #expect(history?.count == 2)
            #expect(history?.first?["to"] as? String == "ap" && history?.first?["actor_role"] as? String == "customer")
            try await client.json(.put, "/v1/customers/\(id)/region", token: admin, body: ["region": "eu"])
            let dns = try await client.json(.get, "/v1/customers/\(id)/dns", token: admin)
            let records = try #require(dns["records"] as? [[String: Any]])
            #expect(records.count == 4)
            #expect(records.contains { $0["type"] as? String == "MX" && $0["name"] as? String == "acme.example" && $0["value"] as? String == "eu.mx.meridian.example" })
            #expect(records.contains { $0["type"] as? String == "TXT" && $0["name"] as? String == "_meridian.acme.example" })
            try await client.json(.put, "/v1/customers/\(id)/region", token: admin, body: ["region": "zz"], expect: .unprocessableContent)
        }
    }

    @Test("a closed account is kept for the closed-account period, can be reopened until then, then is purged", arguments: StoreKind.allCases)
    func closeReopenPurge(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let admin = harness.tokens[.admin]!
            let id = harness.customerID
            let closed = try await client.json(.post, "/v1/customers/\(id)/close?reason=moving", token: admin)
            #expect(closed["status"] as? String == "closed")
            let purgeAfter = try #require((closed["purge_after"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
            #expect(abs(purgeAfter.timeIntervalSince(harness.clock.now) - 395 * 86_400) < 2)
            try await client.json(.post, "/v1/customers/\(id)/close", token: admin, expect: .conflict)
            try await client.json(.put, "/v1/customers/\(id)/region", token: admin, body: ["region": "eu"], expect: .conflict)
            try await client.json(.post, "/v1/customers/\(id)/reopen", token: harness.tokens[.customer])
            try await client.json(.post, "/v1/customers/\(id)/close", token: admin)

            let job = AccountRetentionJob(
                customers: harness.coordinator.customers, requests: harness.coordinator.dataSubjectRequests, now: { harness.clock.now }, logger: TestStores.logger)
            harness.clock.advance(days: 394)
            #expect(try await job.runOnce().isEmpty)
            harness.clock.advance(days: 2)
            #expect(try await job.runOnce() == [id])
            try await client.json(.get, "/v1/customers/\(id)", token: admin, expect: .notFound)
            try await client.json(.post, "/v1/customers/\(id)/reopen", token: admin, expect: .notFound)
            let audit = try await client.json(.get, "/v1/audit?limit=1000", token: admin)["items"] as? [[String: Any]]
            #expect(audit?.contains { $0["action"] as? String == "customer.purge" && $0["actor_id"] as? String == "system:retention" } == true)
            // The purge opens an erasure of the account's data in every region, already in progress.
            let tickets = try await harness.coordinator.dataSubjectRequests.fanningOut()
            let ticket = try #require(tickets.first { $0.subject == .customer(id) })
            #expect(ticket.type == .erasure && ticket.verificationMethod == "account_closure" && ticket.createdBy == "system:retention")
        }
    }

    @Test("update changes only the fields sent and is audited", arguments: StoreKind.allCases)
    func update(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let id = harness.customerID
            let updated = try await client.json(
                .patch, "/v1/customers/\(id)", token: harness.tokens[.customer],
                body: ["webhook": ["url": "https://new.example/in", "mode": "sync"], "metadata_redactions": ["subject", "sender_ip"]])
            #expect((updated["webhook"] as? [String: Any])?["url"] as? String == "https://new.example/in")
            #expect(updated["name"] as? String == "acme")
            try await client.json(.patch, "/v1/customers/\(id)", token: harness.tokens[.admin], body: ["region": "eu"], expect: .badRequest)
            try await client.json(.patch, "/v1/customers/\(id)", token: harness.tokens[.admin], body: ["domains": ["other.example"]], expect: .conflict)
        }
    }

    @Test("exploit: a customer cannot point its webhook at the node's own network; the 422 names the rule")
    func webhookSSRFRefused() async throws {
        // Before the egress guard every one of these was stored, and the node POSTed to it.
        try await APITestHarness.run(.sqlite) { harness, client in
            let refused = [
                ("http://hooks.acme.example/in", "scheme"), ("https://127.0.0.1:9100/metrics", "address"), ("https://2852039166/latest/meta-data", "address"),
                ("https://0x7f.1/", "address"), ("https://[::ffff:169.254.169.254]/", "address"), ("https://10.0.0.7/", "address"),
                ("https://100.64.1.1/", "address"), ("https://[fd12::1]/", "address"), ("https://localhost:8080/v1/tokens", "address"),
                ("https://vault.internal/", "address"), ("https://1.2.3.999/", "malformed"),
            ]
            for (url, rule) in refused {
                let problem = try await client.json(
                    .patch, "/v1/customers/\(harness.customerID)", token: harness.tokens[.customer], body: ["webhook": ["url": url, "mode": "queued"]],
                    expect: .unprocessableContent)
                let detail = problem["detail"] as? String ?? ""
                #expect(problem["field"] as? String == "webhook.url" && detail.contains("(rule: \(rule))"), "\(url): \(detail)")
            }
            let record = try #require(try await harness.coordinator.customers.find(harness.customerID))
            #expect(record.webhookURL == "https://acme.example/hooks/mail")
            try await client.json(
                .patch, "/v1/customers/\(harness.customerID)", token: harness.tokens[.customer],
                body: ["webhook": ["url": "https://hooks.acme.example/in", "mode": "queued"]])
        }
    }

    @Test("a new domain is pending with the record to publish; an operator's verification needs a reason and is audited")
    func domainProofs() async throws {
        try await APITestHarness.run(.sqlite) { harness, client in
            let path = "/v1/customers/\(harness.customerID)"
            let customer = try await client.json(.get, path, token: harness.tokens[.customer])
            let proofs = try #require(customer["domain_proofs"] as? [[String: Any]])
            #expect(proofs.count == 2 && proofs.allSatisfy { $0["state"] as? String == "pending" })
            #expect(proofs.contains { $0["record_name"] as? String == "_meridian.acme.example" && ($0["record_value"] as? String)?.hasPrefix("meridian-verification=") == true })
            try await client.json(.post, "\(path)/domains/acme.example/verify", token: harness.tokens[.admin], body: ["reason": "  "], expect: .unprocessableContent)
            try await client.json(.post, "\(path)/domains/nope.example/verify", token: harness.tokens[.admin], body: ["reason": "x"], expect: .notFound)
            let verified = try await client.json(
                .post, "\(path)/domains/acme.example/verify", token: harness.tokens[.admin], body: ["reason": "owner confirmed by signed letter"])
            let states = Dictionary(uniqueKeysWithValues: (verified["domain_proofs"] as? [[String: Any]] ?? []).map { ($0["domain"] as? String ?? "", $0) })
            #expect(states["acme.example"]?["state"] as? String == "verified" && states["mail.acme.example"]?["state"] as? String == "pending")
            #expect((states["acme.example"]?["verified_by"] as? String)?.hasPrefix("operator:tok_") == true)
            let entry = try #require(try await harness.coordinator.audit.entries(after: 0, limit: 1000).last { $0.action == "domain.verified" })
            #expect(entry.detail["reason"] == "owner confirmed by signed letter" && entry.detail["domain"] == "acme.example" && entry.actorRole == "admin")
        }
    }

    @Test("a webhook URL's credentials stay out of the audit log: its query values (user info is taken apart as sealed credentials)")
    func webhookCredentialsNotAudited() async throws {
        try await APITestHarness.run(.sqlite) { harness, client in
            let url = "https://hooks.acme.example/in?token=s3cr3t-value&team=7"
            try await client.json(.patch, "/v1/customers/\(harness.customerID)", token: harness.tokens[.customer], body: ["webhook": ["url": url, "mode": "queued"]])
            let entries = try await harness.coordinator.audit.entries(after: 0, limit: 1000)
            let update = try #require(entries.last { $0.action == "customer.update" })
            #expect(update.detail["webhook_url"] == "https://hooks.acme.example/in?token=redacted&team=redacted")
            let everything = entries.map { "\($0.detail)" }.joined()
            #expect(!everything.contains("s3cr3t-value"))
            #expect(AuditURL.redacted("https://hooks.example/plain") == "https://hooks.example/plain")
            #expect(AuditURL.redacted("https://bot:hunter2@hooks.example/in?k#frag") == "https://hooks.example/in?k")
            #expect(AuditURL.redacted("not a url at all") == "(not a URL)")
        }
    }

    @Test("a URL's user info becomes sealed HTTP Basic credentials: never shown nor audited, in the bundle; the same URL keeps them, another drops them",
        arguments: StoreKind.allCases)
    func webhookBasicAuthAndFormat(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let id = harness.customerID
            let customer = harness.tokens[.customer]!
            let path = "/v1/customers/\(id)"
            try await client.json(.put, "\(path)/region", token: customer, body: ["region": "eu"])
            let set = try await client.json(
                .patch, path, token: customer,
                body: ["webhook": ["url": "https://hook-user:pa%24%24word@hooks.acme.example/in", "mode": "queued", "format": "mailgun"]])
            var webhook = try #require(set["webhook"] as? [String: Any])
            #expect(webhook["url"] as? String == "https://hooks.acme.example/in" && webhook["basic_auth"] as? Bool == true)
            #expect(webhook["format"] as? String == "mailgun")
            let stored = try #require(try await harness.coordinator.customers.find(id))
            #expect(try harness.coordinator.secrets.open(try #require(stored.webhookCredentialsSealed)) == "hook-user:pa$$word")
            let update = try #require(try await harness.coordinator.audit.entries(after: 0, limit: 1000).last { $0.action == "customer.update" })
            #expect(update.detail["webhook_basic_auth"] == "set" && update.detail["post_format"] == "mailgun")

            let publisher = harness.coordinator.publisher
            await publisher.settled()
            try await publisher.publish()
            // As the eu nodes read it: sealed to the region, opened with the region's key.
            let sealed = try await RegistryAPITests.bundle(harness, "eu")
            #expect(sealed.customers.first { $0.id == id }?.webhook.credentials == nil)
            let opened = try await RegistryAPITests.bundle(harness, "eu", opened: true)
            let entry = try #require(opened.customers.first { $0.id == id })
            #expect(entry.webhook.credentials == "hook-user:pa$$word" && entry.webhook.format == .mailgun && entry.webhook.url == "https://hooks.acme.example/in")

            // What a GET shows, sent back with another mode: the credentials and the format stay.
            webhook = try #require(try await client.json(.patch, path, token: customer, body: ["webhook": ["url": "https://hooks.acme.example/in", "mode": "sync"]])["webhook"] as? [String: Any])
            #expect(webhook["basic_auth"] as? Bool == true && webhook["format"] as? String == "mailgun" && webhook["mode"] as? String == "sync")
            // Another URL without user info drops them: they never follow a URL to another host.
            webhook = try #require(try await client.json(.patch, path, token: customer, body: ["webhook": ["url": "https://other.acme.example/in", "mode": "sync"]])["webhook"] as? [String: Any])
            #expect(webhook["basic_auth"] as? Bool == false)
            let dropped = try #require(try await harness.coordinator.audit.entries(after: 0, limit: 1000).last { $0.action == "customer.update" })
            #expect(dropped.detail["webhook_basic_auth"] == "removed")

            // Unusable credentials and unknown formats are refused, and the problem never repeats the password.
            let noUser = try await client.send(.patch, path, token: customer, body: ["webhook": ["url": "https://:hunter2@hooks.acme.example/", "mode": "sync"]])
            #expect(noUser.status == .unprocessableContent && String(buffer: noUser.body).contains("webhook.url") && !String(buffer: noUser.body).contains("hunter2"))
            let badFormat = try await client.send(.patch, path, token: customer, body: ["webhook": ["url": "https://hooks.acme.example/in", "mode": "sync", "format": "xml"]])
            #expect(badFormat.status == .badRequest)
            try await client.json(.patch, path, token: customer, body: ["webhook": ["url": "https://hooks.acme.example/in", "mode": "sync", "basic_auth": true]])

            let everything = try await harness.coordinator.audit.entries(after: 0, limit: 1000).map { "\($0.detail)" }.joined()
            #expect(!everything.contains("pa$$word") && !everything.contains("pa%24%24word") && !everything.contains("hunter2"))
            let shown = try await client.send(.get, path, token: harness.tokens[.admin])
            #expect(!String(buffer: shown.body).contains("hook-user"))
        }
    }

    @Test("every mutation and every read of customer data is in the audit log, with who and from where", arguments: StoreKind.allCases)
    func auditTrail(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            try await client.json(.get, "/v1/customers/\(harness.customerID)", token: harness.tokens[.dpo])
            let entries = try #require(try await client.json(.get, "/v1/audit?limit=1000", token: harness.tokens[.auditor])["items"] as? [[String: Any]])
            let actions = entries.compactMap { $0["action"] as? String }
            #expect(actions.filter { $0 == "customer.create" }.count == 2)
            #expect(actions.filter { $0 == "token.create" }.count == 7, "the named admin token and one per other role")
            #expect(entries.contains { $0["action"] as? String == "customer.read" && $0["actor_role"] as? String == "dpo" })
            let records = try await harness.coordinator.audit.entries(after: 0, limit: 1000)
            #expect(AuditChain.verify(records).firstBreak == nil)
        }
    }
}

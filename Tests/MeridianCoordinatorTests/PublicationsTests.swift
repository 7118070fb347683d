import Crypto
import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Warrant canary, transparency reports and the public pages, on SQLite and PostgreSQL")
struct PublicationsTests {
    @Test("the coordinator refuses to assert WAR once a warrant is recorded; the canary is signed, public, and lapses visibly",
        arguments: StoreKind.allCases)
    func canary(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            #expect((try await client.send(.get, "/.well-known/canary.txt", token: nil)).status == .notFound)
            let first = try await client.json(.post, "/v1/canary", token: dpo, body: [String: Any](), expect: .created)
            #expect(first["asserted"] as? [String] == CanaryCode.allCases.map(\.rawValue) && first["expired"] as? Bool == false)

            // The published files: the text, its raw 64-byte signature, and the PEM key that verifies it.
            let text = try await client.send(.get, "/.well-known/canary.txt", token: nil).body
            let signature = try await client.send(.get, "/.well-known/canary.txt.sig", token: nil).body
            let pem = String(buffer: try await client.send(.get, "/.well-known/canary.pub", token: nil).body)
            let key = try #require(Ed25519PEM.decode(pem))
            #expect(key.rawRepresentation == TestStores.publicationKey.publicKey.rawRepresentation)
            #expect(signature.readableBytes == 64 && key.isValidSignature(Data(buffer: signature), for: Data(buffer: text)))
            #expect(String(buffer: text) == first["text"] as? String && String(buffer: text).contains("  WAR     We have not received any warrants."))

            // A warrant on record: WAR may not be asserted, by default (the previous codes) or explicitly.
            let warrant = try await client.json(.post, "/v1/legal-requests", token: dpo, body: [
                "received_on": "2026-09-01", "authority": "District Court", "country": "US", "kind": "warrant",
            ], expect: .created)
            let status = try await client.json(.get, "/v1/canary", token: harness.tokens[.auditor])
            #expect((status["contradicted"] as? [[String: Any]])?.map { $0["code"] as? String } == ["WAR"])
            let refused = try await client.json(.post, "/v1/canary", token: dpo, body: [String: Any](), expect: .conflict)
            #expect((refused["detail"] as? String)?.contains("WAR") == true && (refused["detail"] as? String)?.contains(warrant["id"] as! String) == true)
            try await client.json(.post, "/v1/canary", token: dpo, body: ["codes": ["WAR", "SUBP"]], expect: .conflict)
            let second = try await client.json(.post, "/v1/canary", token: dpo, body: ["codes": ["GAG", "SUBP", "DURESS"], "valid_days": 7], expect: .created)
            #expect(second["withheld"] as? [String] == ["WAR", "TRAP", "CEASE", "RAID", "SEIZE", "XCRED", "XOPERS"] && second["sequence"] as? Int == 2)

            // A gag on another request is a gag: GAG may not be asserted either.
            try await client.json(.post, "/v1/legal-requests", token: dpo, body: [
                "received_on": "2026-09-02", "authority": "Police", "country": "DE", "kind": "court_order", "gag_until": "2027-01-01",
            ], expect: .created)
            try await client.json(.post, "/v1/canary", token: dpo, body: ["codes": ["GAG"]], expect: .conflict)
            try await client.json(.post, "/v1/canary", token: dpo, body: ["valid_days": 0], expect: .unprocessableContent)

            // Public: current, then expired once its time passes without a new one.
            var json = try await client.json(.get, "/canary.json", token: nil)
            #expect(json["state"] as? String == "current" && json["withheld"] as? [String] == second["withheld"] as? [String])
            harness.clock.advance(days: 8)
            json = try await client.json(.get, "/canary.json", token: nil)
            #expect(json["state"] as? String == "expired")
            let page = String(buffer: try await client.send(.get, "/canary", token: nil).body)
            #expect(page.contains("This canary has expired and was not renewed") && page.contains(#"data-code="WAR" data-asserted="false""#))
            let actions = try await harness.coordinator.audit.entries(after: 0, limit: 1000).map(\.action)
            #expect(actions.filter { $0 == "canary.issue" }.count == 2)
        }
    }

    @Test("half-year reports count the log; a closed one is frozen, signed, and does not change afterwards", arguments: StoreKind.allCases)
    func transparency(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            // The test clock stands in 2026-H2.
            for (day, kind, country, accounts) in [("2026-02-10", "warrant", "DE", 3), ("2026-05-20", "subpoena", "US", 1), ("2026-08-01", "subpoena", "US", 2)] {
                try await client.json(.post, "/v1/legal-requests", token: dpo, body: [
                    "received_on": day, "authority": "A", "country": country, "kind": kind, "accounts_affected": accounts, "outcome": "rejected",
                ], expect: .created)
            }
            let list = try #require(try await client.json(.get, "/v1/transparency/reports", token: harness.tokens[.auditor])["items"] as? [[String: Any]])
            #expect(list.map { $0["period"] as? String } == ["2026-H2", "2026-H1"])
            #expect(list.map { $0["status"] as? String } == ["open", "closed"])
            #expect(list[1]["requests"] as? Int == 2 && list[1]["accounts_affected"] as? Int == 4)
            #expect((list[1]["by_country"] as? [[String: Any]])?.map { $0["key"] as? String } == ["DE", "US"])

            try await client.json(.post, "/v1/transparency/reports", token: dpo, body: ["period": "2026-H2"], expect: .unprocessableContent)
            try await client.json(.post, "/v1/transparency/reports", token: dpo, body: ["period": "2026-H3"], expect: .unprocessableContent)
            let frozen = try await client.json(.post, "/v1/transparency/reports", token: dpo, body: ["period": "2026-H1"], expect: .created)
            #expect(frozen["status"] as? String == "frozen")
            let bytes = Data(try #require(frozen["report_json"] as? String).utf8)
            let encoded = try #require(frozen["signature"] as? String)
            let signature = try #require(Data(base64Encoded: encoded))
            #expect(TestStores.publicationKey.publicKey.isValidSignature(signature, for: bytes))
            try await client.json(.post, "/v1/transparency/reports", token: dpo, body: ["period": "2026-H1"], expect: .conflict)

            // A request recorded late for a frozen period does not change its report.
            try await client.json(.post, "/v1/legal-requests", token: dpo, body: [
                "received_on": "2026-06-30", "authority": "B", "country": "FR", "kind": "raid",
            ], expect: .created)
            let public_ = try #require(try await client.json(.get, "/transparency.json", token: nil)["reports"] as? [[String: Any]])
            let h1 = try #require(public_.first { $0["period"] as? String == "2026-H1" })
            #expect(h1["requests"] as? Int == 2 && h1["status"] as? String == "frozen" && h1["signature"] as? String == frozen["signature"] as? String)
            let page = String(buffer: try await client.send(.get, "/transparency", token: nil).body)
            #expect(page.contains(#"<section class="report" data-period="2026-H1">"#) && page.contains(#"<tr data-kind="subpoena"><td>subpoena</td><td>1</td></tr>"#))
        }
    }

    @Test("the job freezes a half-year's report a month after it ends, as the system, and leaves the open one")
    func automaticFreeze() async throws {
        try await APITestHarness.run { harness, client in
            for day in ["2026-03-01", "2026-08-01"] {
                try await client.json(.post, "/v1/legal-requests", token: harness.tokens[.dpo], body: [
                    "received_on": day, "authority": "A", "country": "DE", "kind": "subpoena",
                ], expect: .created)
            }
            let job = PublicationsJob(publications: harness.coordinator.publications, now: { harness.clock.now }, logger: .init(label: "test"))
            // The test clock stands in late September 2026: 2026-H1 ended more than 30 days ago.
            #expect(try await job.runOnce() == ["2026-H1"])
            #expect(try await job.runOnce() == [])
            let items = try #require(try await client.json(.get, "/v1/transparency/reports", token: harness.tokens[.dpo])["items"] as? [[String: Any]])
            #expect(items.map { $0["status"] as? String } == ["open", "frozen"])
            let entries = try await harness.coordinator.audit.entries(after: 0, limit: 1000)
            #expect(entries.contains { $0.action == "transparency_report.freeze" && $0.actorID == "system:transparency" })
        }
    }

    @Test("every public page answers without a token, cookies or scripts; /privacy shows the retention the bundles carry")
    func pages() async throws {
        try await APITestHarness.run() { harness, client in
            try await harness.coordinator.publisher.publish()
            for path in PublicSite.paths where !path.contains("canary.txt") {
                let response = try await client.send(.get, path, token: nil)
                let body = String(buffer: response.body)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.setCookie] == nil && !body.contains("<script") && !body.contains("https://"), "\(path)")
                if response.headers[.contentType]?.hasPrefix("text/html") == true {
                    #expect(body.hasPrefix("<!DOCTYPE html>") && body.contains(#"<meta name="viewport""#), "\(path)")
                    #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true, "\(path)")
                }
            }
            let privacy = String(buffer: try await client.send(.get, "/privacy", token: nil).body)
            for region in ["eu", "us", "ap"] {
                let policy = try #require(try await RegistryAPITests.bundle(harness, region).policy)
                for (key, seconds) in [
                    ("message_metadata", policy.messageMetadataSeconds), ("delivery_logs", policy.deliveryLogsSeconds),
                    ("ip_masking", policy.ipMaskingAfterSeconds), ("queue_lifetime", policy.queueLifetimeSeconds),
                    ("quarantine", try #require(policy.quarantineSeconds)),
                ] {
                    let row = try #require(privacy.range(of: #"<tr data-key="\#(key)">"#)).upperBound
                    let cell = #"data-region="\#(region)" data-seconds="\#(seconds)""#
                    #expect(privacy[row...].prefix(while: { $0 != "\n" }).contains(cell), "\(key) in \(region)")
                }
            }
            for field in MetadataField.allCases {
                #expect(privacy.contains(#"<tr data-field="\#(field.rawValue)">"#), "\(field) missing from /privacy")
            }
            let regions = try #require(try await client.json(.get, "/regions.json", token: nil)["regions"] as? [[String: Any]])
            #expect(regions.map { $0["mx_host"] as? String } == TestStores.regions.regions.map(\.mxHost))
        }
    }
}

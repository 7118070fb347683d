import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Admin API: the legal-request log, on SQLite and PostgreSQL")
struct LegalRequestAPITests {
    static var warrant: [String: Any] {
        [
        "received_on": "2026-03-14", "authority": "Amtsgericht Frankfurt", "country": "DE", "kind": "warrant", "accounts_affected": 2,
        "gag_until": "2026-09-14",
        ]
    }

    @Test("record, list, read and update a request; each step is audited", arguments: StoreKind.allCases)
    func lifecycle(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            let created = try await client.json(.post, "/v1/legal-requests", token: dpo, body: Self.warrant, expect: .created)
            let id = try #require(created["id"] as? String)
            #expect(created["canary_code"] as? String == "WAR" && created["outcome"] as? String == "pending")
            #expect(created["received_on"] as? String == "2026-03-14" && created["gag_until"] as? String == "2026-09-14")
            _ = try await client.json(.post, "/v1/legal-requests", token: harness.tokens[.admin]!, body: [
                "received_on": "2026-05-02", "authority": "FBI", "country": "US", "kind": "preservation_request", "outcome": "complied",
            ], expect: .created)

            let page = try await client.json(.get, "/v1/legal-requests?limit=1", token: dpo)
            let items = try #require(page["items"] as? [[String: Any]])
            #expect(items.map { $0["authority"] as? String } == ["FBI"], "newest received first")
            #expect(items[0]["canary_code"] == nil || items[0]["canary_code"] is NSNull)
            let cursor = try #require(page["next_cursor"] as? String)
            let next = try await client.json(.get, "/v1/legal-requests?limit=1&cursor=\(cursor)", token: dpo)
            #expect((next["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])

            let updated = try await client.json(.patch, "/v1/legal-requests/\(id)", token: dpo, body: ["outcome": "challenged", "accounts_affected": 1])
            #expect(updated["outcome"] as? String == "challenged" && updated["accounts_affected"] as? Int == 1)
            #expect(try await client.json(.get, "/v1/legal-requests/\(id)", token: dpo)["outcome"] as? String == "challenged")

            let actions = try await harness.coordinator.audit.entries(after: 0, limit: 1000).map(\.action)
            for action in ["legal_request.create", "legal_request.list", "legal_request.update", "legal_request.read"] {
                #expect(actions.contains(action), "\(action) missing from \(actions)")
            }
        }
    }

    @Test("bad dates, countries and kinds get a 4xx naming the field; unknown ids a 404", arguments: StoreKind.allCases)
    func badInput(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            func with(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
                var body = Self.warrant
                change(&body)
                return body
            }
            let cases: [(body: [String: Any], status: Int, field: String?)] = [
                (with { $0["received_on"] = "2026-02-30" }, 422, "received_on"),
                (with { $0["received_on"] = "14.03.2026" }, 422, "received_on"),
                (with { $0["gag_until"] = "2026-01-01" }, 422, "gag_until"),
                (with { $0["country"] = "de" }, 422, "country"),
                (with { $0["kind"] = "letter" }, 400, "kind"),
                (with { $0["authority"] = "  " }, 422, "authority"),
                (with { $0["accounts_affected"] = -1 }, 422, "accounts_affected"),
            ]
            for testCase in cases {
                let problem = try await client.json(.post, "/v1/legal-requests", token: dpo, body: testCase.body, expect: .init(code: testCase.status))
                #expect(problem["status"] as? Int == testCase.status)
                if let field = testCase.field { #expect(problem["field"] as? String == field, "\(problem)") }
            }
            _ = try await client.json(.get, "/v1/legal-requests/lrq_none", token: dpo, expect: .notFound)
            _ = try await client.json(.patch, "/v1/legal-requests/lrq_none", token: dpo, body: ["outcome": "rejected"], expect: .notFound)
            #expect(try await harness.coordinator.legalRequests.list(after: nil, limit: 10).isEmpty)
        }
    }
}

import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Data-subject requests: tickets, identity codes and deadlines, on SQLite and PostgreSQL")
struct DataSubjectRequestAPITests {
    /// The code in the sealed notice the outbox holds for `ticket`, opened as the outbox job would.
    static func code(_ harness: APITestHarness, for ticket: String) async throws -> String {
        let notices = try await harness.coordinator.registry.outbox.list()
        let notice = try #require(notices.first { $0.eventType == "gdpr_request.verification" && $0.bodySealed })
        let body = try harness.coordinator.secrets.open(notice.body)
        return try #require(body.firstMatch(of: /\b(\d{8})\b/)).1.description
    }

    static func open(_ client: any TestClientProtocol, _ token: String, _ body: [String: Any]) async throws -> [String: Any] {
        try await client.json(.post, "/v1/gdpr-requests", token: token, body: body, expect: .created)
    }

    @Test("a request is verified by the code sent to the subject, worked and completed; every step is audited", arguments: StoreKind.allCases)
    func lifecycle(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            // Rectification is carried out by hand, so the dpo completes it (a fanned-out type completes by itself).
            let ticket = try await Self.open(client, dpo, ["type": "rectification", "regulation": "gdpr", "subject": ["email": "Alice@Example.org"]])
            let id = try #require(ticket["id"] as? String)
            #expect(ticket["state"] as? String == "identity_pending" && ticket["subject"] as? String == "alice@example.org")
            #expect((ticket["verification"] as? [String: Any])?["sent_to"] as? String == "alice@example.org")
            #expect((ticket["verification"] as? [String: Any])?["attempts_left"] as? Int == 5)

            // The code is sealed at rest and never in an answer.
            let code = try await Self.code(harness, for: id)
            let raw = try await harness.coordinator.store.withSession { db in
                try await db.raw("SELECT body FROM notifications WHERE event_type = 'gdpr_request.verification'").first()!.decode(column: "body", as: String.self)
            }
            #expect(raw.hasPrefix("v1:") && !raw.contains(code))
            let shown = String(buffer: try await client.send(.get, "/v1/gdpr-requests/\(id)", token: dpo).body)
            #expect(!shown.contains(code))

            let wrong = try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["code": "00000000"], expect: .unprocessableContent)
            #expect((wrong["detail"] as? String)?.contains("4 attempts left") == true && wrong["field"] as? String == "code")
            try await client.json(.patch, "/v1/gdpr-requests/\(id)", token: dpo, body: ["state": "in_progress"], expect: .conflict)
            let verified = try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["code": code])
            #expect(verified["state"] as? String == "verified" && verified["verification_method"] as? String == "code")
            let again = try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["code": code], expect: .conflict)
            #expect((again["detail"] as? String)?.contains("already verified") == true)

            try await client.json(.patch, "/v1/gdpr-requests/\(id)", token: dpo, body: ["state": "in_progress"])
            let done = try await client.json(.patch, "/v1/gdpr-requests/\(id)", token: dpo, body: ["state": "completed", "reason": "erased"])
            #expect(done["state"] as? String == "completed" && done["closed_at"] is String && (done["next_states"] as? [Any])?.isEmpty == true)
            let reopened = try await client.json(.patch, "/v1/gdpr-requests/\(id)", token: dpo, body: ["state": "in_progress"], expect: .conflict)
            #expect((reopened["detail"] as? String)?.contains("it is closed") == true)

            let actions = try await harness.coordinator.audit.entries(after: 0, limit: 1000).filter { $0.target == id }.map(\.action)
            #expect(actions.first == "gdpr_request.create" && actions.contains("gdpr_request.verify_failed") && actions.contains("gdpr_request.read"))
            #expect(actions.filter { $0 == "gdpr_request.transition" }.count == 3, "verified, in_progress, completed")
        }
    }

    @Test("deadlines: one calendar month or 45 days, one extension up to the cap, and overdue tickets are flagged")
    func deadlines() async throws {
        try await APITestHarness.run { harness, client in
            let dpo = harness.tokens[.dpo]!
            let gdpr = try await Self.open(client, dpo, ["type": "access", "regulation": "gdpr", "subject": ["customer_id": harness.customerID]])
            let ccpa = try await Self.open(client, dpo, ["type": "access", "regulation": "ccpa", "subject": ["email": "bob@example.org"]])
            let received = harness.clock.now
            let formatter = ISO8601DateFormatter()
            #expect(gdpr["due_at"] as? String == formatter.string(from: Regulation.gdpr.due(receivedAt: received)))
            #expect(ccpa["due_at"] as? String == formatter.string(from: received.addingTimeInterval(45 * 86_400)))
            // A customer's request: the code goes to the account's contact address.
            #expect((gdpr["verification"] as? [String: Any])?["sent_to"] as? String == "ops@acme.example")

            let gid = try #require(gdpr["id"] as? String), cid = try #require(ccpa["id"] as? String)
            let tooFar = formatter.string(from: received.addingTimeInterval(91 * 86_400))
            let refused = try await client.json(.post, "/v1/gdpr-requests/\(cid)/extend", token: dpo, body: ["reason": "volume", "until": tooFar], expect: .unprocessableContent)
            #expect((refused["detail"] as? String)?.contains("beyond the cap: 45 days") == true)
            try await client.json(.post, "/v1/gdpr-requests/\(cid)/extend", token: dpo, body: ["reason": "  "], expect: .unprocessableContent)
            let extended = try await client.json(.post, "/v1/gdpr-requests/\(cid)/extend", token: dpo, body: ["reason": "many systems to search"])
            #expect(extended["extended"] as? Bool == true && extended["due_at"] as? String == formatter.string(from: received.addingTimeInterval(90 * 86_400)))
            try await client.json(.post, "/v1/gdpr-requests/\(cid)/extend", token: dpo, body: ["reason": "again"], expect: .conflict)

            harness.clock.advance(days: 32)
            let overdue = try await client.json(.get, "/v1/gdpr-requests?overdue=true", token: harness.tokens[.auditor])
            #expect((overdue["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [gid] && overdue["overdue"] as? Int == 1)
            #expect(try await client.json(.get, "/v1/gdpr-requests/\(gid)", token: dpo)["overdue"] as? Bool == true)
            #expect(try await client.json(.get, "/v1/gdpr-requests/\(cid)", token: dpo)["overdue"] as? Bool == false)
        }
    }

    @Test("bad input: unknown types, malformed identities, expired and over-tried codes, proofs by the wrong role, reasons missing")
    func badInput() async throws {
        try await APITestHarness.run { harness, client in
            let dpo = harness.tokens[.dpo]!, admin = harness.tokens[.admin]!
            let unknown = try await client.json(.post, "/v1/gdpr-requests", token: dpo, body: ["type": "forget-me", "regulation": "gdpr", "subject": ["email": "a@b.example"]], expect: .badRequest)
            #expect((unknown["detail"] as? String)?.contains("type") == true)
            for (subject, field) in [(["email": "not an address"], "subject.email"), (["customer_id": "alice"], "subject.customer_id"),
                                     (["customer_id": "cus_missing"], "subject.customer_id"), ([:], "subject"),
                                     (["email": "a@b.example", "customer_id": harness.customerID], "subject")] {
                let problem = try await client.json(.post, "/v1/gdpr-requests", token: dpo, body: ["type": "access", "regulation": "gdpr", "subject": subject], expect: .unprocessableContent)
                #expect(problem["field"] as? String == field, "\(subject)")
            }

            // Five wrong codes use the code up; the sixth try says so, even with the right code.
            let ticket = try await Self.open(client, dpo, ["type": "access", "regulation": "gdpr", "subject": ["email": "c@d.example"]])
            let id = try #require(ticket["id"] as? String)
            let code = try await Self.code(harness, for: id)
            for left in (0..<5).reversed() {
                let wrong = try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["code": "12345678"], expect: .unprocessableContent)
                #expect((wrong["detail"] as? String)?.contains("\(left) attempt") == true)
            }
            let spent = try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["code": code], expect: .unprocessableContent)
            #expect((spent["detail"] as? String)?.contains("tried 5 times") == true)

            // Another proof: the dpo only, and with what was seen.
            try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: admin, body: ["method": "document", "reason": "passport"], expect: .forbidden)
            try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["method": "document"], expect: .unprocessableContent)
            let proved = try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["method": "document", "reason": "passport seen in person"])
            #expect(proved["state"] as? String == "verified" && proved["verification_method"] as? String == "document")

            // An expired code.
            let late = try await Self.open(client, dpo, ["type": "access", "regulation": "ccpa", "subject": ["email": "e@f.example"]])
            let lateID = try #require(late["id"] as? String)
            harness.clock.advance(days: 1.1)
            let expired = try await client.json(.post, "/v1/gdpr-requests/\(lateID)/verify", token: dpo, body: ["code": "12345678"], expect: .unprocessableContent)
            #expect((expired["detail"] as? String)?.contains("expired") == true)
            try await client.json(.patch, "/v1/gdpr-requests/\(lateID)", token: dpo, body: ["state": "rejected"], expect: .unprocessableContent)
            let rejected = try await client.json(.patch, "/v1/gdpr-requests/\(lateID)", token: dpo, body: ["state": "rejected", "reason": "identity not proved"])
            #expect(rejected["state"] as? String == "rejected" && rejected["state_reason"] as? String == "identity not proved")
            try await client.json(.post, "/v1/gdpr-requests/\(lateID)/extend", token: dpo, body: ["reason": "x"], expect: .conflict)
            try await client.json(.get, "/v1/gdpr-requests/dsr_none", token: dpo, expect: .notFound)
        }
    }
}

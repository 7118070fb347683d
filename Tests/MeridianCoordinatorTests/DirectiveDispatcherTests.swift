import Crypto
import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

/// The coordinator's side of data-subject directives, with no node running (the fan-out to real nodes is
/// Tests/system/test_gdpr_fanout.py): what the coordinator itself finds, erases and keeps, and that a ticket waits
/// for every region.
@Suite("Data-subject directives: the coordinator's part, legal holds, waiting regions, the export gate")
struct DirectiveDispatcherTests {
    static func start(_ client: any TestClientProtocol, _ harness: APITestHarness, _ body: [String: Any]) async throws -> String {
        let dpo = harness.tokens[.dpo]!
        let ticket = try await client.json(.post, "/v1/gdpr-requests", token: dpo, body: body, expect: .created)
        let id = try #require(ticket["id"] as? String)
        try await client.json(.post, "/v1/gdpr-requests/\(id)/verify", token: dpo, body: ["method": "document", "reason": "contract on file"])
        try await client.json(.patch, "/v1/gdpr-requests/\(id)", token: dpo, body: ["state": "in_progress"])
        return id
    }

    @Test("an account's erasure keeps its contracts and the request record, says why, and waits for every region", arguments: StoreKind.allCases)
    func accountErasure(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            let id = harness.customerID
            try await client.json(.post, "/v1/customers/\(id)/dpa", token: dpo, body: RegistryAPITests.dpa, expect: .created)
            let ticket = try await Self.start(client, harness, ["type": "erasure", "regulation": "gdpr", "subject": ["customer_id": id]])

            let manual = try await client.json(.patch, "/v1/gdpr-requests/\(ticket)", token: dpo, body: ["state": "completed"], expect: .conflict)
            #expect((manual["detail"] as? String)?.contains("every region has answered") == true)

            let dispatcher = harness.coordinator.directives
            #expect(try await dispatcher.runOnce().isEmpty, "no node is known: the ticket cannot complete")
            #expect(try await dispatcher.runOnce().isEmpty, "a second pass does not carry out the coordinator's part again")

            let shown = try await client.json(.get, "/v1/gdpr-requests/\(ticket)", token: dpo)
            #expect(shown["state"] as? String == "in_progress")
            let answers = try #require(shown["answers"] as? [[String: Any]])
            #expect(answers.map { $0["region"] as? String } == ["coordinator", "ap", "eu", "us"])
            #expect(answers.dropFirst().allSatisfy { $0["status"] as? String == "waiting" && ($0["last_error"] as? String)?.contains("no node") == true })
            let own = try #require(answers.first)
            #expect(own["status"] as? String == "answered" && own["attempts"] as? Int == 1)
            let classes = Dictionary(uniqueKeysWithValues: try #require(own["classes"] as? [[String: Any]]).map { ($0["data_class"] as! String, $0) })
            #expect(classes["account"]?["held"] as? Int == 1)
            #expect(((classes["account"]?["hold_reasons"] as? [String])?.first)?.contains("the account is active") == true)
            #expect(classes["dpas"]?["held"] as? Int == 1)
            #expect(((classes["dpas"]?["hold_reasons"] as? [String])?.first)?.contains("financial and contractual records: kept 7y") == true)
            #expect(classes["audit_log"]?["held"] as? Int ?? 0 > 0)
            let backups = (classes["backups"]?["hold_reasons"] as? [String])?.first ?? ""
            #expect(backups.contains("within 45d of the account's deletion (deleted_customer_backups), and within 90d of this erasure at the latest"))

            let export = try await client.json(.get, "/v1/gdpr-requests/\(ticket)/export", token: dpo, expect: .conflict)
            #expect((export["detail"] as? String)?.contains("only access and portability") == true)
            let answersAudited = try await harness.coordinator.audit.entries(after: 0, limit: 1000).filter { $0.target == ticket && $0.action == "gdpr_request.answer" }
            #expect(answersAudited.count == 1 && answersAudited.first?.actorID == "system:gdpr")
        }
    }

    @Test("an address's erasure deletes the notices sent to it; an access export waits for completion", arguments: StoreKind.allCases)
    func addressErasureAndAccess(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            let address = "subject@example.org"
            let access = try await Self.start(client, harness, ["type": "access", "regulation": "ccpa", "subject": ["email": address]])
            let erasure = try await Self.start(client, harness, ["type": "erasure", "regulation": "gdpr", "subject": ["email": address]])
            let dispatcher = harness.coordinator.directives
            _ = try await dispatcher.runOnce()

            let pending = try await client.json(.get, "/v1/gdpr-requests/\(access)/export", token: dpo, expect: .conflict)
            #expect((pending["detail"] as? String)?.contains("once every region has answered") == true)
            try await client.json(.get, "/v1/gdpr-requests/\(access)/export", token: harness.tokens[.admin], expect: .forbidden)

            // Both codes went to the address; the access pass found them, the erasure pass deleted them.
            let own = try #require(try await harness.coordinator.dataSubjectRequests.answers(of: erasure).first)
            let notices = try #require(own.classes.first { $0.dataClass == "notifications" })
            #expect(notices.found == 2 && notices.erased == 2)
            let requests = try #require(own.classes.first { $0.dataClass == "data_subject_requests" })
            #expect(requests.held == 2 && requests.holdReasons.first?.contains("accountability") == true)
            let backups = try #require(own.classes.first { $0.dataClass == "backups" })
            #expect(backups.holdReasons.first?.contains("within 90d (backups policy)") == true, "an address's data: the backups period")
            let left = try await harness.coordinator.registry.outbox.list().filter { $0.recipient == address }
            #expect(left.isEmpty)
            let accessOwn = try #require(try await harness.coordinator.dataSubjectRequests.answers(of: access).first)
            #expect(accessOwn.classes.allSatisfy { $0.erased == 0 })
        }
    }

    @Test("a directive verifies only with the coordinator's key, unchanged and unexpired")
    func signedDirective() throws {
        let key = TestStores.bundleKey
        // Whole seconds: the signed JSON carries RFC 3339 times.
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let directive = DataSubjectDirective(
            requestID: "dsr_1", action: .erasure, subject: .email("a@example.org"), holds: [LegalHold(customerID: "cus_1", reason: "open legal request")],
            issuedAt: now, expiresAt: now.addingTimeInterval(60))
        let signed = try SignedDirective.sign(directive, with: key)
        #expect(try signed.verify(with: key.publicKey, at: now) == directive)
        #expect(throws: CoreError(.directiveExpired)) { try signed.verify(with: key.publicKey, at: now.addingTimeInterval(61)) }
        #expect(throws: CoreError(.untrustedKey)) { try signed.verify(with: TestStores.publicationKey.publicKey, at: now) }
        var tampered = signed
        tampered.payload = Data(#"{"action":"erasure","subject":{"kind":"customer","value":"cus_2"}}"#.utf8).base64EncodedString()
        #expect(throws: CoreError(.signatureInvalid)) { try tampered.verify(with: key.publicKey, at: now) }
    }
}

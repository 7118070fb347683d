import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Authorization: every operation for every role")
struct AuthorizationMatrixTests {
    /// A representative request per operation, on the harness customer's account.
    static func request(_ operation: String, _ harness: APITestHarness) -> (method: HTTPRequest.Method, path: String, body: [String: Any]?) {
        let id = harness.customerID
        switch operation {
        case "getCaller": return (.get, "/v1/whoami", nil)
        case "createCustomer": return (.post, "/v1/customers", APITestHarness.sampleCustomer("n\(UUID().uuidString.prefix(8).lowercased())"))
        case "listCustomers": return (.get, "/v1/customers", nil)
        case "getCustomer": return (.get, "/v1/customers/\(id)", nil)
        case "updateCustomer": return (.patch, "/v1/customers/\(id)", ["name": "acme"])
        case "getCustomerRegion": return (.get, "/v1/customers/\(id)/region", nil)
        case "setCustomerRegion": return (.put, "/v1/customers/\(id)/region", ["region": "eu"])
        case "getCustomerDNS": return (.get, "/v1/customers/\(id)/dns", nil)
        case "checkCustomerDNS": return (.get, "/v1/customers/\(id)/dns/check", nil)
        case "rotateWebhookSecret": return (.post, "/v1/customers/\(id)/webhook-secret", ["overlap_hours": 1])
        case "getFilteringPolicy": return (.get, "/v1/customers/\(id)/filtering", nil)
        case "listSMTPProtocolLog": return (.get, "/v1/smtp-log?limit=10", nil)
        case "listQuarantine": return (.get, "/v1/customers/\(id)/quarantine", nil)
        case "previewQuarantined": return (.get, "/v1/customers/\(id)/quarantine/eml_none", nil)
        case "releaseQuarantined": return (.post, "/v1/customers/\(id)/quarantine/release", ["message_ids": ["eml_none"]])
        case "deleteQuarantined": return (.post, "/v1/customers/\(id)/quarantine/delete", ["message_ids": ["eml_none"]])
        case "setFilteringPolicy": return (.put, "/v1/customers/\(id)/filtering", ["spam_mode": "reject", "spam_threshold": 8])
        case "verifyCustomerDomain": return (.post, "/v1/customers/\(id)/domains/acme.example/verify", ["reason": "checked the owner by phone"])
        case "listNodes": return (.get, "/v1/nodes", nil)
        case "forgetNode": return (.delete, "/v1/nodes/node_none", nil)
        case "enrollNode": return (.post, "/v1/nodes", ["region": "eu", "node_id": "eu-\(UUID().uuidString.prefix(8).lowercased())", "control_url": "https://10.0.0.9:9101"])
        case "revokeNode": return (.post, "/v1/nodes/node_none/revoke", nil)
        case "createLegalRequest":
            return (.post, "/v1/legal-requests", ["received_on": "2026-11-01", "authority": "Court", "country": "DE", "kind": "subpoena"])
        case "listLegalRequests": return (.get, "/v1/legal-requests", nil)
        case "getLegalRequest": return (.get, "/v1/legal-requests/lrq_none", nil)
        case "updateLegalRequest": return (.patch, "/v1/legal-requests/lrq_none", ["outcome": "rejected"])
        case "testWebhook": return (.post, "/v1/customers/\(id)/webhook/test", nil)
        case "listCustomerMessages": return (.get, "/v1/customers/\(id)/messages", nil)
        case "getCustomerMessage": return (.get, "/v1/customers/\(id)/messages/eml_none/0", nil)
        case "redeliverMessage": return (.post, "/v1/customers/\(id)/messages/eml_none/0/redeliver", nil)
        case "closeCustomer": return (.post, "/v1/customers/\(id)/close", nil)
        case "reopenCustomer": return (.post, "/v1/customers/\(id)/reopen", nil)
        case "createAccessGrant": return (.post, "/v1/customers/\(id)/access-grants", ["reason": "matrix test", "duration_hours": 1])
        case "listAccessGrants": return (.get, "/v1/customers/\(id)/access-grants", nil)
        case "revokeAccessGrant": return (.delete, "/v1/customers/\(id)/access-grants/grt_none", nil)
        case "createInvitation": return (.post, "/v1/customers/\(id)/invitations", ["email": "matrix-\(UUID().uuidString.prefix(8).lowercased())@acme.example"])
        case "listAccountUsers": return (.get, "/v1/customers/\(id)/users", nil)
        case "removeAccountUser": return (.delete, "/v1/customers/\(id)/users/usr_none", nil)
        case "createToken": return (.post, "/v1/tokens", ["name": "x", "role": "auditor"])
        case "listTokens": return (.get, "/v1/tokens", nil)
        case "revokeToken": return (.delete, "/v1/tokens/tok_none", nil)
        case "listAuditEntries": return (.get, "/v1/audit", nil)
        case "listSubprocessors": return (.get, "/v1/subprocessors", nil)
        case "getSubprocessor": return (.get, "/v1/subprocessors/none", nil)
        case "createSubprocessor": return (.post, "/v1/subprocessors", RegistryAPITests.analysisService("matrix \(UUID().uuidString.prefix(8))"))
        case "updateSubprocessor": return (.patch, "/v1/subprocessors/none", ["name": "x"])
        case "listObjections": return (.get, "/v1/customers/\(id)/objections", nil)
        case "createObjection": return (.post, "/v1/customers/\(id)/objections", ["subprocessor_id": "none"])
        case "withdrawObjection": return (.delete, "/v1/customers/\(id)/objections/obj_none", nil)
        case "getDPA": return (.get, "/v1/customers/\(id)/dpa", nil)
        case "getDPAAnnex": return (.get, "/v1/customers/\(id)/dpa/annex", nil)
        case "recordDPA": return (.post, "/v1/customers/\(id)/dpa", RegistryAPITests.dpa)
        case "listNotifications": return (.get, "/v1/notifications", nil)
        case "listTransparencyReports": return (.get, "/v1/transparency/reports", nil)
        case "freezeTransparencyReport": return (.post, "/v1/transparency/reports", ["period": "2020-H1"])
        case "getCanary": return (.get, "/v1/canary", nil)
        case "issueCanary": return (.post, "/v1/canary", [String: Any]())
        case "createGdprRequest": return (.post, "/v1/gdpr-requests", ["type": "access", "regulation": "gdpr", "subject": ["email": "x@y.example"]])
        case "listGdprRequests": return (.get, "/v1/gdpr-requests", nil)
        case "getGdprRequest": return (.get, "/v1/gdpr-requests/dsr_none", nil)
        case "updateGdprRequest": return (.patch, "/v1/gdpr-requests/dsr_none", ["state": "in_progress"])
        case "verifyGdprRequest": return (.post, "/v1/gdpr-requests/dsr_none/verify", ["code": "12345678"])
        case "extendGdprRequest": return (.post, "/v1/gdpr-requests/dsr_none/extend", ["reason": "x"])
        case "exportGdprRequest": return (.get, "/v1/gdpr-requests/dsr_none/export", nil)
        case "getGdprReceipts": return (.get, "/v1/gdpr-requests/dsr_none/receipts", nil)
        default: return (.get, "/unknown-operation/\(operation)", nil)
        }
    }

    static var operationIDs: [String] {
        get throws {
            let spec = try String(contentsOfFile: TestStores.repositoryRoot + "/docs/openapi.yaml", encoding: .utf8)
            return spec.split(separator: "\n").compactMap { line in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return trimmed.hasPrefix("operationId:") ? trimmed.dropFirst("operationId:".count).trimmingCharacters(in: .whitespaces) : nil
            }
        }
    }

    @Test("every operation in docs/openapi.yaml is in the matrix, and the matrix has nothing else")
    func matrixCoversTheSpec() throws {
        let operations = Set(try Self.operationIDs)
        #expect(operations == Set(AuthorizationPolicy.matrix.keys).union(AuthorizationPolicy.publicOperations))
    }

    @Test("docs/authorization.md says exactly what the code enforces")
    func documentedMatrixMatches() throws {
        let text = try String(contentsOfFile: TestStores.repositoryRoot + "/docs/authorization.md", encoding: .utf8)
        var documented: [String: [Role: String]] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let operation = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            let roles: [Role] = [.admin, .support, .dpo, .auditor, .security, .customer]
            documented[operation] = Dictionary(uniqueKeysWithValues: zip(roles, cells[2...7].map { String($0) }))
        }
        for (operation, access) in AuthorizationPolicy.matrix {
            for role in Role.allCases {
                #expect(documented[operation]?[role] == (access[role]?.rawValue ?? "no"), "\(operation) / \(role)")
            }
        }
        #expect(Set(documented.keys) == Set(AuthorizationPolicy.matrix.keys))
    }

    @Test("each role gets 403 exactly where the matrix says no, on SQLite and PostgreSQL", arguments: StoreKind.allCases)
    func enforced(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            for operation in try Self.operationIDs where !AuthorizationPolicy.publicOperations.contains(operation) {
                for role in Role.allCases {
                    let request = Self.request(operation, harness)
                    let response = try await client.send(request.method, request.path, token: harness.tokens[role], body: request.body)
                    let access = AuthorizationPolicy.access(role, to: operation)
                    // Support passes per-account checks only under a grant, which the matrix's own createAccessGrant call makes.
                    let granted = try await harness.coordinator.grants.customersGranting(Role.support.rawValue, at: harness.clock.now)
                        .contains(harness.customerID)
                    let expectForbidden = access == nil || access == .withGrant && request.path.contains(harness.customerID) && !granted
                    #expect(
                        (response.status == .forbidden) == expectForbidden,
                        "\(operation) as \(role): \(response.status) \(String(buffer: response.body))")
                    #expect(response.status != .unauthorized && response.status.code < 500, "\(operation) as \(role)")
                }
            }
            // A customer token never reaches another account, whatever it asks.
            for operation in ["getCustomer", "updateCustomer", "getCustomerDNS", "closeCustomer", "createAccessGrant", "createObjection", "getDPA"] {
                let request = Self.request(operation, harness)
                let path = request.path.replacingOccurrences(of: harness.customerID, with: harness.otherCustomerID)
                let response = try await client.send(request.method, path, token: harness.tokens[.customer], body: request.body)
                #expect(response.status == .forbidden, "\(operation) on another account")
            }
        }
    }

    @Test("support reads an account only under an active grant the customer gave")
    func supportNeedsAGrant() async throws {
        try await APITestHarness.run { harness, client in
            let support = harness.tokens[.support]!
            let id = harness.customerID
            try await client.json(.get, "/v1/customers/\(id)", token: support, expect: .forbidden)
            var listed = try await client.json(.get, "/v1/customers", token: support)
            #expect((listed["items"] as? [Any])?.isEmpty == true)
            try await client.json(.post, "/v1/customers/\(id)/access-grants", token: harness.tokens[.admin], body: ["reason": "x"], expect: .forbidden)
            let grant = try await client.json(.post, "/v1/customers/\(id)/access-grants", token: harness.tokens[.customer], body: ["reason": "ticket 7", "duration_hours": 2], expect: .created)
            try await client.json(.get, "/v1/customers/\(id)", token: support)
            listed = try await client.json(.get, "/v1/customers", token: support)
            #expect((listed["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            try await client.json(.get, "/v1/customers/\(harness.otherCustomerID)", token: support, expect: .forbidden)
            harness.clock.advance(days: 0.1)
            try await client.json(.delete, "/v1/customers/\(id)/access-grants/\(grant["id"] as! String)", token: harness.tokens[.customer])
            try await client.json(.get, "/v1/customers/\(id)", token: support, expect: .forbidden)
            let entries = try await harness.coordinator.audit.entries(after: 0, limit: 1000)
            #expect(entries.contains { $0.action == "customer.read" && $0.actorRole == "support" && $0.target == id })
            #expect(entries.contains { $0.action == "access_grant.revoke" })
        }
    }
}

import HTTPTypes

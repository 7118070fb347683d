import Foundation
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Filtering policy: set by the customer, audited, compiled into the bundles", .serialized)
struct FilteringPolicyAPITests {
    @Test("the standard policy until changed; a change is audited and reaches the region's bundle", arguments: StoreKind.allCases)
    func setAndCompile(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let id = harness.customerID
            let customer = harness.tokens[.customer]!
            let standard = try await client.json(.get, "/v1/customers/\(id)/filtering", token: customer)
            #expect(standard["spam_mode"] as? String == "mark" && standard["spam_threshold"] as? Double == 6)
            #expect(standard["virus_mode"] as? String == "reject" && standard["reject_dmarc_failures"] as? Bool == false)
            #expect(standard["on_scanner_failure"] as? String == "pass")

            let set = try await client.json(
                .put, "/v1/customers/\(id)/filtering", token: customer,
                body: ["spam_mode": "reject", "spam_threshold": 7.5, "reject_dmarc_failures": true, "on_scanner_failure": "defer"])
            #expect(set["spam_mode"] as? String == "reject" && set["spam_threshold"] as? Double == 7.5)
            #expect(set["virus_mode"] as? String == "reject", "a field left out takes the standard value")
            let shown = try await client.json(.get, "/v1/customers/\(id)", token: customer)["filtering"] as? [String: Any]
            #expect(shown?["on_scanner_failure"] as? String == "defer")

            let entry = try #require(try await harness.coordinator.audit.entries(after: 0, limit: 1000).last { $0.action == "customer.filtering.update" })
            #expect(entry.target == id && entry.detail["spam_mode"] == "reject" && entry.detail["reject_dmarc_failures"] == "true")

            try await client.json(.put, "/v1/customers/\(id)/region", token: customer, body: ["region": "eu"])
            let publisher = harness.coordinator.publisher
            await publisher.settled()
            try await publisher.publish()
            let eu = try await RegistryAPITests.bundle(harness, "eu")
            let filtering = try #require(eu.customers.first { $0.id == id }?.filtering)
            #expect(filtering.spamMode == .reject && filtering.spamThreshold == 7.5 && filtering.rejectDMARCFailures && filtering.onScannerFailure == .defer)

            // Back to the standard policy: the bundle leaves the field out.
            try await client.json(.put, "/v1/customers/\(id)/filtering", token: customer, body: [String: Any]())
            await publisher.settled()
            try await publisher.publish()
            #expect(try await RegistryAPITests.bundle(harness, "eu").customers.first { $0.id == id }?.filtering == nil)
        }
    }

    @Test("bad values are refused with a problem naming them, and nothing changes", arguments: StoreKind.allCases)
    func badInput(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let id = harness.customerID
            let admin = harness.tokens[.admin]!
            for body: [String: Any] in [
                ["spam_mode": "quarantine-everything"], ["spam_threshold": 5000], ["spam_threshold": "high"], ["virus_mode": "ignore"],
                ["reject_dmarc_failures": "yes"], ["on_scanner_failure": "drop"], ["unknown_field": true],
            ] {
                let response = try await client.send(.put, "/v1/customers/\(id)/filtering", token: admin, body: body)
                #expect([400, 422].contains(response.status.code), "\(body)")
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect(problem?["detail"] as? String != nil, "\(body)")
            }
            #expect(try await client.json(.get, "/v1/customers/\(id)/filtering", token: admin)["spam_mode"] as? String == "mark")
            try await client.json(.post, "/v1/customers/\(id)/close", token: admin)
            try await client.json(.put, "/v1/customers/\(id)/filtering", token: admin, body: ["spam_mode": "reject"], expect: .conflict)
        }
    }
}

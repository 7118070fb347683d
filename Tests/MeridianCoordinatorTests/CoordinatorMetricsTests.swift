import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("The coordinator's /metrics: what the documented alerts read")
struct CoordinatorMetricsTests {
    static func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("exploit: /metrics answers only the metrics token, not the public and not an API token")
    func scrapeToken() async throws {
        // Before, anyone could read the coordinator's metrics, and each scrape queried the database.
        try await APITestHarness.run(.sqlite) { harness, client in
            #expect(try await client.send(.get, "/metrics", token: nil).status == .unauthorized)
            #expect(try await client.send(.get, "/metrics", token: harness.tokens[.admin]).status == .unauthorized)
            let denied = try await client.send(.get, "/metrics", token: "mrm_wrong")
            #expect(denied.status == .unauthorized && denied.headers[.wwwAuthenticate] == "Bearer realm=\"metrics\"")
            #expect(try await client.send(.get, "/metrics", token: harness.coordinator.metricsToken).status == .ok)
            let path = harness.coordinator.configuration.dataDirectory + "/metrics-token"
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
            let kept = try String(contentsOfFile: path, encoding: .utf8)
            #expect(mode & 0o077 == 0 && kept.hasPrefix("mrm_"))
        }
    }

    @Test("overdue requests, the canary's expiry, answers by class", arguments: StoreKind.allCases)
    func alerts(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let dpo = harness.tokens[.dpo]!
            let scrape = harness.coordinator.metricsToken
            var text = String(buffer: try await client.send(.get, "/metrics", token: scrape).body)
            #expect(Self.value(text, "meridian_gdpr_requests_overdue") == 0 && Self.value(text, "meridian_database_up") == 1)
            #expect(!text.contains("meridian_canary_expiry_seconds"), "no canary yet")

            try await client.json(.post, "/v1/gdpr-requests", token: dpo, body: ["type": "erasure", "regulation": "gdpr", "subject": ["email": "a@example.org"]], expect: .created)
            try await client.json(.post, "/v1/canary", token: dpo, body: [String: Any](), expect: .created)
            _ = try await client.send(.get, "/v1/gdpr-requests", token: nil)
            harness.clock.advance(days: 32)
            text = String(buffer: try await client.send(.get, "/metrics", token: scrape).body)
            #expect(Self.value(text, "meridian_gdpr_requests_open") == 1 && Self.value(text, "meridian_gdpr_requests_overdue") == 1)
            #expect((Self.value(text, "meridian_canary_expiry_seconds") ?? 0) < 0, "expired two days ago")
            #expect((Self.value(text, #"meridian_api_responses_total{code="4xx"}"#) ?? 0) >= 1)
            #expect(Self.value(text, #"meridian_nodes{state="refused"}"#) == 0)
            #expect(text.contains("# TYPE meridian_outbox_notifications gauge"))
        }
    }
}

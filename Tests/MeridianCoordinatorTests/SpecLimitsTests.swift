import Foundation
import HummingbirdTesting
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("The spec's string limits and control characters, enforced at run time for every field")
struct SpecLimitsTests {
    /// A body holding only `value` at `path` (`a.b`; `domains[]` is the key `domains` holding an array).
    static func body(_ path: String, _ value: String) -> [String: Any] {
        var object: Any = value
        for part in path.split(separator: ".").reversed() {
            let key = String(part)
            object = key.hasSuffix("[]") ? [String(key.prefix(key.count - 2)): [object]] as [String: Any] : [key: object] as [String: Any]
        }
        return object as? [String: Any] ?? [:]
    }

    /// The name a problem gives the field: arrays by their first index.
    static func name(_ path: String) -> String { path.replacingOccurrences(of: "[]", with: "[0]") }

    /// A token of a role that may call the operation, admin first.
    static func token(_ operation: String, _ harness: APITestHarness) -> String? {
        let roles = AuthorizationPolicy.matrix[operation] ?? [:]
        for role in [Role.admin, .dpo, .customer, .support, .auditor] where roles[role] == .allowed || roles[role] == .ownAccount {
            return harness.tokens[role]
        }
        return nil
    }

    @Test("exploit: every string field of every body, too long or holding a control character, is a 422 naming it")
    func everyBodyField() async throws {
        // Before, only a handful of fields were checked by hand: the spec's maxLength and pattern were documentation,
        // and a name such as "Acme\r\nBcc: ..." reached what the coordinator writes.
        try await APITestHarness.run(.sqlite) { harness, client in
            var checked = 0
            for (operation, fields) in SpecLimits.bodies.sorted(by: { $0.key < $1.key }) {
                let (method, path, _) = AuthorizationMatrixTests.request(operation, harness)
                let token = try #require(Self.token(operation, harness), "\(operation): no role may call it")
                for field in fields {
                    var bad: [String] = ["a\u{01}b", "x\u{7F}", "line\u{85}break"]
                    if !field.multiline { bad.append("two\nlines") }
                    if let maximum = field.maxLength { bad.append(String(repeating: "a", count: maximum + 1)) }
                    if field.pattern != nil { bad.append("!") }
                    for value in bad {
                        let response = try await client.send(method, path, token: token, body: Self.body(field.path, value))
                        let problem = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
                        #expect(response.status == .unprocessableContent, "\(operation) \(field.path) \(value.prefix(20).debugDescription)")
                        #expect(problem["field"] as? String == Self.name(field.path), "\(operation) \(field.path): \(problem)")
                        checked += 1
                    }
                }
            }
            #expect(checked > 100)
        }
    }

    @Test("line breaks are text in notes and reasons, and a query parameter over its limit is a 422 too")
    func multilineAndParameters() async throws {
        try await APITestHarness.run(.sqlite) { harness, client in
            try await client.json(
                .post, "/v1/legal-requests", token: harness.tokens[.dpo],
                body: ["received_on": "2026-01-05", "authority": "Court", "country": "DE", "kind": "subpoena", "notes": "first line\nsecond line"],
                expect: .created)
            let long = String(repeating: "s", count: 321)
            let problem = try await client.json(
                .get, "/v1/customers/\(harness.customerID)/messages?sender=\(long)", token: harness.tokens[.admin], expect: .unprocessableContent)
            #expect(problem["field"] as? String == "sender")
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MeridianAPI
import MeridianCore
import NIOCore
import NIOConcurrencyHelpers
import Testing

@testable import MeridianCoordinator

/// The coordinator's application, as its builder makes it, on a fresh store behind HummingbirdTesting's router
/// transport, with a token per role and a customer whose token and support grant the tests can use.
struct APITestHarness: Sendable {
    let coordinator: Coordinator
    let clock: TestClock
    let tokens: [Role: String]
    let customerID: String
    let otherCustomerID: String

    static func run(
        _ kind: StoreKind = .sqlite, egress: EgressPolicy = .production,
        _ body: @escaping @Sendable (APITestHarness, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestStores.withStore(kind) { store in
            let clock = TestClock()
            let coordinator = try await TestStores.coordinator(store, clock: clock, egress: egress)
            defer { try? FileManager.default.removeItem(atPath: coordinator.configuration.dataDirectory) }
            let first = NIOLockedValueBox<BearerToken?>(nil)
            // The application as `meridian coordinator` runs it: its start makes the first admin token.
            let app = try coordinator.application { token, _ in first.withLockedValue { $0 = token } }
            try await app.test(.router) { client in
                let first = try #require(first.withLockedValue { $0 })
                // As an operator does: a named admin token of its own in place of the first, which expires in 72 h
                // (tests move the clock by months).
                let admin = try await client.call(
                    .post, "/v1/tokens", token: first.secret, body: Components.Schemas.TokenCreate(name: "test admin", role: .admin),
                    as: Components.Schemas.CreatedToken.self, expect: .created)
                var tokens: [Role: String] = [.admin: admin.secret]
                let customer = try await client.call(
                    .post, "/v1/customers", token: admin.secret, body: typedCustomer("acme"), as: Components.Schemas.CreatedCustomer.self,
                    expect: .created)
                let other = try await client.call(
                    .post, "/v1/customers", token: admin.secret, body: typedCustomer("other"), as: Components.Schemas.CreatedCustomer.self,
                    expect: .created)
                for role in [Role.support, .dpo, .auditor, .security, .customer] {
                    let request = Components.Schemas.TokenCreate(
                        name: "\(role) token", role: .init(role), customerId: role == .customer ? customer.customer.id : nil)
                    let created = try await client.call(
                        .post, "/v1/tokens", token: admin.secret, body: request, as: Components.Schemas.CreatedToken.self, expect: .created)
                    tokens[role] = created.secret
                }
                let customerID = customer.customer.id
                let otherID = other.customer.id
                try await body(
                    APITestHarness(coordinator: coordinator, clock: clock, tokens: tokens, customerID: customerID, otherCustomerID: otherID),
                    client)
            }
        }
    }

    /// The sample customer as the generated request type.
    static func typedCustomer(_ name: String, region: String? = nil) -> Components.Schemas.CustomerCreate {
        Components.Schemas.CustomerCreate(
            name: name, contactEmail: "ops@\(name).example", region: region, domains: ["\(name).example", "mail.\(name).example"],
            webhook: .init(url: "https://\(name).example/hooks/mail", mode: .queued))
    }

    /// The sample customer as a JSON object, for tests that change it into bad input.
    static func sampleCustomer(_ name: String, region: String? = nil) -> [String: Any] {
        var body: [String: Any] = [
            "name": name, "contact_email": "ops@\(name).example", "domains": ["\(name).example", "mail.\(name).example"],
            "webhook": ["url": "https://\(name).example/hooks/mail", "mode": "queued"],
        ]
        if let region { body["region"] = region }
        return body
    }
}

extension TestClientProtocol {
    /// Sends a request with a body of the types generated from docs/openapi.yaml, checks the status and decodes
    /// the answer as the generated type `answer`.
    func call<Body: Encodable, Answer: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, token: String?, body: Body, as answer: Answer.Type,
        expect status: HTTPResponse.Status = .ok, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Answer {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers[.contentType] = "application/json"
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let response = try await executeRequest(uri: path, method: method, headers: headers, body: ByteBuffer(data: try encoder.encode(body)))
        #expect(response.status == status, "\(method) \(path): \(String(buffer: response.body))", sourceLocation: sourceLocation)
        return try Self.decode(answer, response)
    }

    /// Sends a request without a body and decodes the answer as the generated type `answer`.
    func call<Answer: Decodable>(
        _ method: HTTPRequest.Method, _ path: String, token: String?, as answer: Answer.Type, expect status: HTTPResponse.Status = .ok,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Answer {
        let response = try await send(method, path, token: token)
        #expect(response.status == status, "\(method) \(path): \(String(buffer: response.body))", sourceLocation: sourceLocation)
        return try Self.decode(answer, response)
    }

    static func decode<Answer: Decodable>(_ answer: Answer.Type, _ response: TestResponse) throws -> Answer {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(answer, from: Data(buffer: response.body))
    }

    /// Sends a request and returns the raw response.
    func send(_ method: HTTPRequest.Method, _ path: String, token: String?, body: Any? = nil, raw: String? = nil) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let raw {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(string: raw)
        } else if let body {
            headers[.contentType] = "application/json"
            buffer = ByteBuffer(data: try JSONSerialization.data(withJSONObject: body))
        }
        return try await executeRequest(uri: path, method: method, headers: headers, body: buffer)
    }

    /// Sends a request, checks the status and returns the JSON object it answered with.
    @discardableResult
    func json(
        _ method: HTTPRequest.Method, _ path: String, token: String?, body: Any? = nil, raw: String? = nil,
        expect status: HTTPResponse.Status = .ok, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [String: Any] {
        let response = try await send(method, path, token: token, body: body, raw: raw)
        let text = String(buffer: response.body)
        #expect(response.status == status, "\(method) \(path): \(text)", sourceLocation: sourceLocation)
        if response.status.code >= 400 {
            #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? ["_array": (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as Any]
    }
}

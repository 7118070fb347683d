import Foundation
import Logging
import MeridianCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

@testable import MeridianNode
@testable import MeridianServer

@Suite("Webhook client: what an endpoint's failure is called, and where a webhook may not point")
struct WebhookClientTests {
    static let loopbackAllowed = EgressPolicy(allowHTTP: true, allowedNetworks: [IPNetwork("127.0.0.0/8")!])

    /// A client under `policy`, resolving names with `resolve` (the system's unless a test gives its own).
    static func withClient<R: Sendable>(
        _ policy: EgressPolicy, resolve: (@Sendable (String) throws -> [IPAddress])? = nil, timeout: Duration = .seconds(5),
        _ body: (WebhookClient) async throws -> R
    ) async throws -> R {
        // The connect timeout as long as the webhook timeout: a client that retried a refusal until either ran out
        // would take all of it, far from a refusal known at once even when a loaded run stalls for seconds.
        var configuration = WebhookClient.httpConfiguration(timeout: timeout)
        configuration.timeout.connect = .nanoseconds(timeout.nanoseconds)
        let egress = try await EgressClient.start(
            configuration: configuration, policy: { policy },
            resolve: resolve ?? HostResolver.addresses(of:), logger: Logger(label: "test.egress"))
        let client = WebhookClient(egress: egress, timeout: timeout)
        do {
            let result = try await body(client)
            try await egress.shutdown()
            try await egress.shutdown()
            return result
        } catch {
            try? await egress.shutdown()
            throw error
        }
    }

    /// A real HTTP endpoint on loopback, running while `body` does.
    static func withEndpoint<R: Sendable>(_ body: @escaping @Sendable (TestWebhookEndpoint) async throws -> R) async throws -> R {
        let endpoint = TestWebhookEndpoint()
        let group = ServiceGroup(services: [endpoint.application()], logger: Logger(label: "test.endpoint"))
        return try await withThrowingTaskGroup(of: R?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            tasks.addTask {
                while endpoint.port == nil { try await Task.sleep(for: .milliseconds(10)) }
                let result = try await body(endpoint)
                await group.triggerGracefulShutdown()
                return result
            }
            var answer: R?
            for try await value in tasks where value != nil { answer = value }
            return try #require(answer)
        }
    }

    static func post(_ client: WebhookClient, _ url: String) async throws -> WebhookResult {
        await client.post(url: url, body: WebhookBody(contentType: "application/json", bytes: Array("{}".utf8)), webhookID: "msg_1", signature: try WebhookSignature(secret: TestNode.secret), for: "cus_test")
    }

    @Test("a refused connection is said to be refused at once, found by its errno, not by the error's text")
    func refused() async throws {
        // A port bound and never listened on: Linux refuses connections to it, and no other test can take it while
        // it is held (a port closed before the attempt could be, and then the attempt timed out instead).
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        try #require(bound)
        let port = UInt16(bigEndian: address.sin_port)
        // Before the client stopped retrying the proxy's 502, the refusal came when the connect timeout ran out: here
        // after 60 s, in service after 10.
        let result = try await Self.withClient(Self.loopbackAllowed, timeout: .seconds(60)) { try await Self.post($0, "http://127.0.0.1:\(port)/hook") }
        #expect(result.outcome == .temporary && result.statusCode == nil && result.text == "connection refused", "\(result)")
        #expect(result.duration < .seconds(20), "a refused connection is known at once; it took \(result.duration)")
    }

    @Test("a deployment that allows loopback delivers to it through the egress proxy, Host and body intact")
    func delivered() async throws {
        try await Self.withEndpoint { endpoint in
            let result = try await Self.withClient(Self.loopbackAllowed) { try await Self.post($0, endpoint.url("/ok")) }
            #expect(result.outcome == .delivered && result.statusCode == 200)
            let post = try #require(endpoint.posts.first)
            #expect(post.headers["Host"] == "127.0.0.1:\(endpoint.port ?? 0)" && post.body == Data("{}".utf8))
        }
    }

    @Test("exploit: every spelling of a loopback, private or metadata address is refused for good, and nothing reaches it")
    func internalAddresses() async throws {
        // Before the egress guard, each of these POSTs reached the endpoint on loopback (and its answer came back).
        try await Self.withEndpoint { endpoint in
            let port = endpoint.port ?? 0
            let hosts = ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost", "LOCALHOST."]
            let httpOnly = EgressPolicy(allowHTTP: true)
            for host in hosts {
                let result = try await Self.withClient(httpOnly) { try await Self.post($0, "http://\(host):\(port)/ok") }
                #expect(result.outcome == .refused, "\(host)")
                #expect(result.text == "the webhook URL is not allowed: its host is not a public address", "\(host)")
                #expect(!result.text.contains("127"), "the reason must not describe the target")
            }
            // Production: https only, so even a public-looking http URL is refused before any connection.
            let production = try await Self.withClient(.production) { try await Self.post($0, "http://93.184.216.34:\(port)/ok") }
            #expect(production.outcome == .refused && production.text.contains("https"))
            #expect(endpoint.posts.isEmpty)
        }
    }

    @Test("exploit: a name that resolves to a public address when checked and to loopback when connected to (DNS rebinding) reaches nothing")
    func rebinding() async throws {
        // The resolver stands in for a hostile DNS server (none can run here that getaddrinfo would ask): its first
        // answer is public, every later one loopback. The check before the request passes; the connection's fails.
        try await Self.withEndpoint { endpoint in
            let url = "http://hooks.rebind.example:\(endpoint.port ?? 0)/ok"
            let answers = Mutex(0)
            let rebinding: @Sendable (String) throws -> [IPAddress] = { name in
                guard name == "hooks.rebind.example" else { return try HostResolver.addresses(of: name) }
                let first = answers.withLock { count in
                    defer { count += 1 }
                    return count == 0
                }
                return first ? [.v4([93, 184, 216, 34])] : [.v4([127, 0, 0, 1])]
            }
            let refused = try await Self.withClient(EgressPolicy(allowHTTP: true), resolve: rebinding, timeout: .seconds(60)) { try await Self.post($0, url) }
            #expect(refused.outcome == .refused && endpoint.posts.isEmpty)
            #expect(refused.duration < .seconds(20), "the proxy's refusal is final at once; it took \(refused.duration)")
            #expect(answers.withLock { $0 } >= 2, "the connection resolved the name again")
            // The same name where the deployment allows loopback: the proxy connects to the address it checked.
            let delivered = try await Self.withClient(Self.loopbackAllowed, resolve: rebinding) { try await Self.post($0, url) }
            #expect(delivered.outcome == .delivered && endpoint.posts.count == 1)
            #expect(endpoint.posts.first?.headers["Host"] == "hooks.rebind.example:\(endpoint.port ?? 0)")
        }
    }
}

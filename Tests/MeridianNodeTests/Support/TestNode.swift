import Foundation
import Logging
import MeridianCore
import Prometheus
import ServiceLifecycle
import Testing

@testable import MeridianNode

/// A regional node built by its builder in a directory of its own, enrolled by the ``TestPKI``, listening on
/// ephemeral loopback ports and serving the customers of a signed bundle file: what `meridian node` runs,
/// in-process.
struct TestNode {
    static let region = try! RegionCatalog.load(directory: TestPaths.root + "/Regions").region(RegionID("eu")!)!
    static let secret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()

    /// A customer of the bundle, queued unless said otherwise.
    static func customer(_ id: String, domain: String, webhook: String, mode: String = "queued") -> [String: Any] {
        ["id": id, "region": "eu", "domains": [domain], "webhook": ["url": webhook, "mode": mode, "secret": secret], "metadata_redactions": []]
    }

    /// A bundle signed with the ``TestPKI``'s bundle key, as the coordinator signs it.
    static func bundle(version: Int, customers: [[String: Any]]) throws -> Data {
        try TestPKI.shared.signed(try plainBundle(version: version, customers: customers))
    }

    /// The same, unsigned.
    /// The test deployment lets webhooks be `http` on loopback, where ``TestWebhookEndpoint`` listens.
    static func plainBundle(version: Int, customers: [[String: Any]]) throws -> Data {
        try JSONSerialization.data(withJSONObject: [
            "version": version, "region": "eu", "customers": customers, "elsewhere": [],
            "egress": ["allow_http": true, "allow_networks": ["127.0.0.0/8"]],
        ])
    }

    let directory: String
    var configuration: NodeConfiguration

    init(bundle: Data?, change: (inout NodeConfiguration) -> Void = { _ in }) throws {
        directory = NSTemporaryDirectory() + "node-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        configuration = NodeConfiguration(region: Self.region, nodeID: "eu-test", dataDirectory: directory, hostname: "eu.mx.test")
        configuration.smtp.host = "127.0.0.1"
        configuration.smtp.port = 0
        configuration.controlPort = 0
        configuration.probePort = 0
        try TestPKI.shared.enrollment(node: "eu-test", region: RegionID("eu")!).save(directory: configuration.identityDirectory)
        configuration.webhookTimeout = .seconds(5)
        // Retries within a test: one second at most between attempts.
        configuration.region.queue.retryInitial = PolicyDuration(seconds: 1)
        configuration.region.queue.retryMaximum = PolicyDuration(seconds: 1)
        if let bundle { try bundle.write(to: URL(fileURLWithPath: configuration.bundlePath)) }
        change(&configuration)
    }

    /// Builds the node and runs its services (and `alongside`) while `body` runs, then shuts them down gracefully.
    func run<R: Sendable>(
        alongside: [any Service] = [], _ body: @escaping @Sendable (RegionalNode) async throws -> R
    ) async throws -> R {
        try await run(alongside: alongside) { node, _ in try await body(node) }
    }

    /// The same, with a way for `body` to begin the graceful shutdown itself (as SIGTERM would).
    func run<R: Sendable>(
        alongside: [any Service] = [], _ body: @escaping @Sendable (RegionalNode, _ beginShutdown: @escaping @Sendable () async -> Void) async throws -> R
    ) async throws -> R {
        let node = try await RegionalNode.build(configuration, registry: PrometheusCollectorRegistry(), logger: Logger(label: "test.node"))
        let group = ServiceGroup(configuration: .init(services: alongside.map { .init(service: $0) } + node.services.map { .init(service: $0) }, logger: Logger(label: "test")))
        return try await withThrowingTaskGroup(of: R?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            defer { withExtendedLifetime(node) {} }
            do {
                try await waitUntil("the SMTP listener is up") { node.smtp.port != nil }
                let result = try await body(node) { await group.triggerGracefulShutdown() }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }
}

/// Waits until `condition` holds, checking every 20 ms, for at most `seconds`.
func waitUntil(_ what: String, seconds: Double = 20, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out after \(seconds) s waiting for \(what)")
    throw CancellationError()
}

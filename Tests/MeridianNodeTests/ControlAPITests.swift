import AsyncHTTPClient
import Foundation
import MeridianCore
import MeridianServer
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

@testable import MeridianNode

/// The node's two listeners over real sockets: the control API lets only the coordinator's certificate in, and
/// the probe port answers health, metrics and status in plain HTTP, and nothing else.
@Suite("Control API: mutual TLS for the coordinator only; a plain probe port without personal data")
struct ControlAPITests {
    static func call(
        _ url: String, method: HTTPMethod = .GET, tls: TLSConfiguration?, body: Data? = nil
    ) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.tlsConfiguration = tls
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test("the coordinator's certificate gets in; none, a node's, another CA's or plain HTTP do not")
    func mutualTLS() async throws {
        let test = try TestNode(bundle: nil)
        try await test.run { node in
            try await waitUntil("the control API listens") { node.ports.control.port != nil && node.ports.probe.port != nil }
            let control = "https://127.0.0.1:\(node.ports.control.port!)"
            let coordinator = try TestPKI.shared.coordinatorCredentials()

            let status = try await Self.call(control + "/v1/status", tls: coordinator.client)
            #expect(status.status == 200 && status.body.contains("\"node\":\"eu-test\""))
            let push = try await Self.call(
                control + NodeProtocol.bundlePath, method: .PUT, tls: coordinator.client, body: try TestNode.bundle(version: 4, customers: []))
            #expect(push.status == 200 && node.config.version == 4, "a push over mutual TLS is applied: \(push.body)")

            // No client certificate: the handshake fails (the server requires one).
            var anonymous = TLSConfiguration.makeClientConfiguration()
            anonymous.trustRoots = .certificates([try NIOSSLCertificate(bytes: TestPKI.shared.nodeCA.certificate.derBytes, format: .der)])
            await #expect(throws: (any Error).self) { _ = try await Self.call(control + "/v1/status", tls: anonymous) }
            // A node's certificate is not the coordinator's: another node cannot push to this one.
            let other = try TestPKI.shared.enrollment(node: "eu-other", region: RegionID("eu")!)
            let posing = try LinkCredentials(.init(key: other.key, certificate: other.certificate), peerAuthority: TestPKI.shared.nodeCA.certificate)
            await #expect(throws: (any Error).self) {
                _ = try await Self.call(
                    control + NodeProtocol.bundlePath, method: .PUT, tls: posing.client, body: try TestNode.bundle(version: 5, customers: []))
            }
            #expect(node.config.version == 4, "nothing was applied")
            await #expect(throws: (any Error).self) { _ = try await Self.call("http://127.0.0.1:\(node.ports.control.port!)/v1/status", tls: nil) }
        }
    }

    @Test("the probe port answers /healthz, /metrics and /v1/status, and no query of personal data")
    func probePort() async throws {
        let test = try TestNode(bundle: nil)
        try await test.run { node in
            try await waitUntil("the probe port listens") { node.ports.probe.port != nil }
            let probe = "http://127.0.0.1:\(node.ports.probe.port!)"
            #expect(try await Self.call(probe + "/healthz", tls: nil).status == 200)
            let metrics = try await Self.call(probe + "/metrics", tls: nil)
            #expect(metrics.status == 200 && metrics.body.contains("meridian_node_certificate_expiry_timestamp_seconds"))
            #expect(try await Self.call(probe + "/v1/status", tls: nil).status == 200)
            #expect(try await Self.call(probe + "/v1/messages?customer_id=cus_a", tls: nil).status == 404)
            #expect(try await Self.call(probe + NodeProtocol.bundlePath, method: .PUT, tls: nil, body: Data("{}".utf8)).status == 404)
        }
    }
}

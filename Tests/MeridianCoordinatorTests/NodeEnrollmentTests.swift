import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import MeridianCore
import MeridianServer
import NIOCore
import NIOHTTP1
import NIOSSL
import Prometheus
import SwiftASN1
import Testing
import X509

@testable import MeridianCoordinator
@testable import MeridianNode

/// Enrollment and the node port, over real TLS on loopback: the coordinator of ``APITestHarness`` runs its node
/// port on a free port, and nodes join it with the code `meridian node --join` runs.
@Suite("Node identity: enrollment, joining, mutual TLS on the node port, renewal and revocation")
struct NodeEnrollmentTests {
    static let logger = Logger(label: "test.node-link")

    /// The harness coordinator's node port, once it listens.
    static func nodePort(_ harness: APITestHarness) async throws -> String {
        for _ in 0..<500 {
            if let port = harness.coordinator.nodeLinkPort { return "https://127.0.0.1:\(port)" }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }

    /// Enrolls `id` through the admin API; its join token.
    static func enroll(_ client: some TestClientProtocol, _ harness: APITestHarness, _ id: String, region: String) async throws -> JoinToken {
        let enrolled = try await client.json(
            .post, "/v1/nodes", token: harness.tokens[.admin]!, body: ["region": region, "node_id": id, "control_url": "https://127.0.0.1:1"],
            expect: .created)
        let text = try #require(enrolled["join_token"] as? String)
        return try #require(JoinToken(text))
    }

    /// A call to the node port as a node makes it: with `credentials` (nil: no certificate), trusting the
    /// coordinator CA.
    static func call(
        _ url: String, method: HTTPMethod = .GET, credentials: LinkCredentials?, authorization: String? = nil, body: Data? = nil
    ) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let credentials {
            request.tlsConfiguration = credentials.client
        } else {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: TestStores.authority.coordinatorCA.certificate.derBytes, format: .der)])
            request.tlsConfiguration = tls
        }
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 24)))
    }

    static func csr(_ key: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) throws -> Data {
        try JSONEncoder().encode(NodeJoinRequest(csr: try CertificateSigningRequest.make(for: key, subject: "a node")))
    }

    @Test("a node joins with its token over TLS and gets a certificate naming its region and id; the token works once", arguments: StoreKind.allCases)
    func enrollAndJoin(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let admin = harness.tokens[.admin]!
            let port = try await Self.nodePort(harness)
            let enrolled = try await client.json(
                .post, "/v1/nodes", token: admin, body: ["region": "eu", "node_id": "eu-7", "control_url": "https://10.1.2.3:9101/"], expect: .created)
            let node = try #require(enrolled["node"] as? [String: Any])
            #expect(node["enrollment"] as? String == "enrolled" && node["control_url"] as? String == "https://10.1.2.3:9101")
            let text = try #require(enrolled["join_token"] as? String)
            let token = try #require(JoinToken(text))
            let authority = harness.coordinator.keys.authority
            #expect(token.coordinatorCAFingerprint == authority.coordinatorCA.certificate.fingerprint, "the token pins the coordinator CA")

            let enrollment = try await NodeEnrollment.join(token: token, coordinator: port, logger: Self.logger)
            #expect(enrollment.region == RegionID("eu")! && enrollment.node == "eu-7" && enrollment.controlURL == "https://10.1.2.3:9101")
            #expect(enrollment.bundleKey.rawRepresentation == harness.coordinator.keys.bundleSigning.publicKey.rawRepresentation)
            #expect(enrollment.coordinatorCA == authority.coordinatorCA.certificate && enrollment.nodeCA == authority.nodeCA.certificate)
            let certificate = enrollment.certificate
            #expect(authority.nodeCA.certificate.publicKey.isValidSignature(certificate.signature, for: certificate), "issued by the node CA")
            #expect(certificate.nodeIdentity == .node(zone: authority.zone, region: RegionID("eu")!, id: "eu-7"))
            let names = try #require(try certificate.extensions.subjectAlternativeNames)
            #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [10, 1, 2, 3]))), "the control URL's host")
            #expect(certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore) <= 86_400 + 300, "short-lived")
            let joined = try #require(try await harness.coordinator.nodes.node("eu-7"))
            #expect(joined.enrollment == .active && joined.certificateSerial == certificate.serialHex)

            // Kept owner-only and read back whole.
            let directory = NSTemporaryDirectory() + "identity-\(UUID().uuidString)"
            try enrollment.save(directory: directory)
            let kept = try #require(try NodeEnrollment.load(directory: directory))
            #expect(kept.certificate == certificate && kept.key.rawRepresentation == enrollment.key.rawRepresentation && kept.joinTokenHash == token.hash)
            for file in ["node.pem", "node-ca.pem", "coordinator-ca.pem", "enrollment.json"] {
                let mode = try FileManager.default.attributesOfItem(atPath: directory + "/" + file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file)")
            }

            // The token works once; an active node is not enrolled again before it is revoked.
            await #expect(throws: NodeError(.joinRefused)) { try await NodeEnrollment.join(token: token, coordinator: port, logger: Self.logger) }
            let again = try await Self.call(
                port + NodeProtocol.joinPath, method: .POST, credentials: nil, authorization: "Bearer \(token)", body: try Self.csr())
            #expect(again.status == 401 && again.body.contains("used already"))
            try await client.json(
                .post, "/v1/nodes", token: admin, body: ["region": "eu", "node_id": "eu-7", "control_url": "https://10.1.2.3:9101"], expect: .conflict)

            // Revoked: its certificate is no longer current; enrolled again, it gets a new token.
            let revoked = try await client.json(.post, "/v1/nodes/eu-7/revoke", token: admin)
            #expect(revoked["enrollment"] as? String == "revoked")
            #expect(try await harness.coordinator.nodes.isCurrent("eu-7", serial: certificate.serialHex) == nil)
            try await client.json(.post, "/v1/nodes/eu-none/revoke", token: admin, expect: .notFound)
            try await client.json(
                .post, "/v1/nodes", token: admin, body: ["region": "eu", "node_id": "eu-7", "control_url": "https://10.1.2.3:9101"], expect: .created)

            let audit = try #require(try await client.json(.get, "/v1/audit?limit=500", token: admin)["items"] as? [[String: Any]])
            let actions = audit.filter { ($0["target"] as? String) == "node/eu-7" }.compactMap { $0["action"] as? String }
            #expect(actions.sorted() == ["node.enroll", "node.enroll", "node.join", "node.join.refused", "node.join.refused", "node.revoke"], "\(actions)")
        }
    }

    @Test("unknown, expired and malformed tokens, a token pinning another CA, and bad requests are refused with the reason, and audited")
    func refusals() async throws {
        try await APITestHarness.run { harness, client in
            let admin = harness.tokens[.admin]!
            let port = try await Self.nodePort(harness)
            let token = try await Self.enroll(client, harness, "us-7", region: "us")
            let csr = try Self.csr()
            let join = port + NodeProtocol.joinPath

            let missing = try await Self.call(join, method: .POST, credentials: nil, body: csr)
            #expect(missing.status == 401 && missing.body.contains("join token"))
            let unknown = try await Self.call(
                join, method: .POST, credentials: nil, authorization: "Bearer \(JoinToken.generate(pinning: String(repeating: "a", count: 64)))", body: csr)
            #expect(unknown.status == 401 && unknown.body.contains("not known"))
            let garbage = try await Self.call(
                join, method: .POST, credentials: nil, authorization: "Bearer \(token)", body: Data(#"{"csr":"not a request"}"#.utf8))
            #expect(garbage.status == 422 && garbage.body.contains("csr"))

            // A token whose pin is not this coordinator's CA: the node stops before it sends the token.
            let elsewhere = JoinToken(secret: token.secret, coordinatorCAFingerprint: String(repeating: "b", count: 64))
            await #expect(throws: NodeError(.coordinatorNotTrusted)) {
                try await NodeEnrollment.join(token: elsewhere, coordinator: port, logger: Self.logger)
            }
            #expect(try await harness.coordinator.nodes.node("us-7")?.enrollment == .enrolled, "the token was not spent")

            harness.clock.advance(days: 1)
            let expired = try await Self.call(join, method: .POST, credentials: nil, authorization: "Bearer \(token)", body: csr)
            #expect(expired.status == 401 && expired.body.contains("expired"))
            #expect(try await harness.coordinator.nodes.node("us-7")?.enrollment == .enrolled, "nothing was applied")

            for (body, field) in [
                (["region": "mars", "node_id": "x", "control_url": "https://x:1"], "region"),
                (["region": "eu", "node_id": "no/slash", "control_url": "https://x:1"], "node_id"),
                (["region": "eu", "node_id": "x", "control_url": "ftp://x"], "control_url"),
                (["region": "eu", "node_id": "x", "control_url": "http://x:9101"], "control_url"),
            ] {
                let problem = try await client.json(.post, "/v1/nodes", token: admin, body: body, expect: .unprocessableContent)
                #expect(problem["field"] as? String == field)
            }
            let audit = try #require(try await client.json(.get, "/v1/audit?limit=500", token: admin)["items"] as? [[String: Any]])
            let refused = audit.filter { $0["action"] as? String == "node.join.refused" }.compactMap { ($0["detail"] as? [String: Any])?["reason"] as? String }
            #expect(refused.sorted() == ["expired", "unknown"])
        }
    }

    @Test("a node is who its certificate says: its own region's bundle only, reports only as itself, no rogue or moved nodes")
    func identityFromCertificate() async throws {
        try await APITestHarness.run { harness, client in
            let port = try await Self.nodePort(harness)
            let eu = try await NodeEnrollment.join(token: try await Self.enroll(client, harness, "eu-1", region: "eu"), coordinator: port, logger: Self.logger)
            _ = try await NodeEnrollment.join(token: try await Self.enroll(client, harness, "us-1", region: "us"), coordinator: port, logger: Self.logger)
            let credentials = try eu.linkCredentials()
            let published = try #require(try await harness.coordinator.config.latest()).version

            // The exploit of the shared token: ask for another region's bundle, as another node, moving it.
            let pull = try await Self.call(
                port + NodeProtocol.pullPath + "?version=0&region=us&node=us-1&control_url=https://203.0.113.9:9101", credentials: credentials)
            #expect(pull.status == 200)
            let bundle = try #require(
                try ConfigRepository.assemble(
                    try JSONDecoder().decode(ConfigUpdate.self, from: Data(pull.body.utf8)), region: RegionID("eu")!,
                    key: harness.coordinator.keys.bundleSigning.publicKey))
            #expect(bundle.region == RegionID("eu")! && bundle.version == published, "the certificate's region, not the query's")
            let nodes = try await harness.coordinator.nodes.nodes()
            #expect(nodes.map(\.id).sorted() == ["eu-1", "us-1"], "no node registers itself")
            #expect(nodes.allSatisfy { $0.controlURL == "https://127.0.0.1:1" }, "no node moves one")
            let unchanged = try await Self.call(port + NodeProtocol.pullPath + "?version=\(published)", credentials: credentials)
            #expect(unchanged.status == 204)

            // A report is the caller's, signed by it: it moves eu-1's record, never us-1's. Unsigned, signed as
            // another node, or signed long ago, it is refused.
            let nack = BundleReport(status: .nack, offered: published + 1, version: published, error: "a test NACK")
            let pair = credentials.current
            func post(_ report: BundleReport) async throws -> (status: Int, body: String) {
                try await Self.call(port + NodeProtocol.reportsPath, method: .POST, credentials: credentials, body: try JSONEncoder().encode(report))
            }
            let unsigned = try await post(nack)
            #expect(unsigned.status == 403 && unsigned.body.contains("the report is not signed"))
            let asUS = try await post(try nack.signing(region: "us", node: "us-1", at: Date(), key: pair.key, certificate: pair.certificate.pem))
            #expect(asUS.status == 403 && asUS.body.contains("signed as us/us-1"))
            let stale = try await post(
                try nack.signing(region: "eu", node: "eu-1", at: Date().addingTimeInterval(-3600), key: pair.key, certificate: pair.certificate.pem))
            #expect(stale.status == 403 && stale.body.contains("too far from now"))
            var altered = try nack.signing(region: "eu", node: "eu-1", at: Date(), key: pair.key, certificate: pair.certificate.pem)
            altered.status = .ack
            #expect(try await post(altered).body.contains("the signed report says nack"))
            let signed = try nack.signing(region: "eu", node: "eu-1", at: Date(), key: pair.key, certificate: pair.certificate.pem)
            #expect(try await post(signed).status == 204)
            let recorded = try #require(try await harness.coordinator.nodes.node("eu-1"))
            #expect(recorded.lastResult == .nack && recorded.lastError == "a test NACK")
            #expect(try await harness.coordinator.nodes.node("us-1")?.lastResult == nil)

            // Without a certificate: 401. With one of another CA, or an expired one of the node CA: no handshake.
            let bare = try await Self.call(port + NodeProtocol.pullPath + "?version=0", credentials: nil)
            #expect(bare.status == 401 && bare.body.contains("certificate"))
            let stranger = try CertificateAuthority.make("someone else's CA")
            let key = P256.Signing.PrivateKey()
            let names: [GeneralName] = [.uniformResourceIdentifier(NodeIdentity.node(zone: eu.zone, region: RegionID("us")!, id: "us-1").uri)]
            let forged = try LinkCredentials(
                .init(key: key, certificate: try stranger.issue(subject: "us-1", publicKey: .init(key.publicKey), names: names, lifetime: 3600, at: Date())),
                peerAuthority: eu.coordinatorCA)
            await #expect(throws: (any Error).self) { _ = try await Self.call(port + NodeProtocol.pullPath + "?version=0", credentials: forged) }
            let expiredCertificate = try harness.coordinator.keys.authority.nodeCA.issue(
                subject: "eu-1", publicKey: .init(eu.key.publicKey), names: names, lifetime: 3600, at: Date().addingTimeInterval(-7200))
            let expired = try LinkCredentials(.init(key: eu.key, certificate: expiredCertificate), peerAuthority: eu.coordinatorCA)
            await #expect(throws: (any Error).self) { _ = try await Self.call(port + NodeProtocol.pullPath + "?version=0", credentials: expired) }

            // Plain HTTP to the node port gets no answer.
            await #expect(throws: (any Error).self) {
                _ = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(harness.coordinator.nodeLinkPort!)/node/v1/ca"), timeout: .seconds(5))
            }
        }
    }

    @Test("a node renews its certificate before it expires; a revoked node is refused at its next call, audited once")
    func renewalAndRevocation() async throws {
        try await APITestHarness.run { harness, client in
            let port = try await Self.nodePort(harness)
            let enrollment = try await NodeEnrollment.join(
                token: try await Self.enroll(client, harness, "eu-1", region: "eu"), coordinator: port, logger: Self.logger)
            let directory = NSTemporaryDirectory() + "identity-\(UUID().uuidString)"
            try enrollment.save(directory: directory)
            let credentials = try enrollment.linkCredentials()
            let first = try enrollment.linkCredentials()
            let metrics = NodeMetrics(region: "eu", registry: PrometheusCollectorRegistry())
            // A clock at 17 h into the certificate's day: past the two thirds, so it is due.
            let renewal = CertificateRenewal(
                directory: directory, endpoints: CoordinatorEndpoints([port]), enrollment: enrollment, credentials: credentials, metrics: metrics, logger: Self.logger,
                now: { enrollment.certificate.notValidBefore.addingTimeInterval(17 * 3600) })
            await renewal.check()
            let renewed = credentials.current.certificate
            #expect(renewed != enrollment.certificate && renewed.nodeIdentity == enrollment.certificate.nodeIdentity)
            #expect(try NodeEnrollment.load(directory: directory)?.certificate == renewed, "written to identity/node.pem")
            #expect(try await harness.coordinator.nodes.node("eu-1")?.certificateSerial == renewed.serialHex)
            let pull = port + NodeProtocol.pullPath + "?version=0"
            #expect(try await Self.call(pull, credentials: credentials).status == 200, "the new certificate works")
            #expect(try await Self.call(pull, credentials: first).status == 200, "the one it renewed from stays good until it expires")
            try await renewal.renew()
            let replaced = try await Self.call(pull, credentials: first)
            #expect(replaced.status == 403 && replaced.body.contains("replaced"))

            _ = try await client.json(.post, "/v1/nodes/eu-1/revoke", token: harness.tokens[.admin]!)
            for _ in 0..<2 {
                let refused = try await Self.call(pull, credentials: credentials)
                #expect(refused.status == 403 && refused.body.contains("revoked"))
            }
            let renewAfter = try await Self.call(port + NodeProtocol.renewPath, method: .POST, credentials: credentials, body: try Self.csr())
            #expect(renewAfter.status == 403, "a revoked node gets no new certificate")
            let audit = try #require(
                try await client.json(.get, "/v1/audit?limit=500", token: harness.tokens[.admin]!)["items"] as? [[String: Any]])
            let refusals = audit.filter { $0["action"] as? String == "node.refused" }.compactMap { ($0["detail"] as? [String: Any])?["reason"] as? String }
            #expect(refusals.sorted() == ["replaced", "revoked"], "one entry per reason, not one per try: \(refusals)")
            #expect(audit.filter { $0["action"] as? String == "node.renew" }.count == 2)
        }
    }
}

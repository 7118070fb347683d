import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import MeridianCore
import NIOCore
import SwiftASN1
import Testing
import X509

@testable import MeridianCoordinator

@Suite("Node enrollment: an admin enrolls a node, it joins once with its token, and can be revoked")
struct NodeEnrollmentTests {
    /// A node's request for a certificate of `key`, as `meridian node --join` makes it.
    static func request(_ key: P256.Signing.PrivateKey) throws -> String {
        try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName("a node") }, privateKey: .init(key), attributes: .init(),
            signatureAlgorithm: .ecdsaWithSHA256
        ).serializeAsPEM().pemString
    }

    static func join(_ client: some TestClientProtocol, token: String?, csr: String) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers[.contentType] = "application/json"
        let body = try JSONEncoder().encode(NodeJoinRequest(csr: csr))
        return try await client.executeRequest(uri: NodeProtocol.joinPath, method: .post, headers: headers, body: ByteBuffer(data: body))
    }

    @Test("a node joins with its token and gets a certificate naming its region and id; the token works once", arguments: StoreKind.allCases)
    func enrollAndJoin(kind: StoreKind) async throws {
        try await APITestHarness.run(kind) { harness, client in
            let admin = harness.tokens[.admin]!
            let enrolled = try await client.json(
                .post, "/v1/nodes", token: admin, body: ["region": "eu", "node_id": "eu-7", "control_url": "https://10.1.2.3:9101/"], expect: .created)
            let node = try #require(enrolled["node"] as? [String: Any])
            #expect(node["enrollment"] as? String == "enrolled" && node["control_url"] as? String == "https://10.1.2.3:9101")
            let text = try #require(enrolled["join_token"] as? String)
            let token = try #require(JoinToken(text))
            let authority = harness.coordinator.keys.authority
            #expect(token.coordinatorCAFingerprint == authority.coordinatorCA.fingerprint, "the token pins the coordinator CA")

            let key = P256.Signing.PrivateKey()
            let response = try await Self.join(client, token: text, csr: try Self.request(key))
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let answer = try JSONDecoder().decode(NodeJoinAnswer.self, from: Data(buffer: response.body))
            #expect(answer.region == "eu" && answer.node == "eu-7" && answer.controlURL == "https://10.1.2.3:9101")
            #expect(answer.bundleKey == harness.coordinator.keys.bundleSigning.publicKey.rawRepresentation.base64EncodedString())
            let certificate = try Certificate(pemEncoded: answer.certificate)
            #expect(P256.Signing.PublicKey(certificate.publicKey)?.rawRepresentation == key.publicKey.rawRepresentation)
            #expect(authority.nodeCA.certificate.publicKey.isValidSignature(certificate.signature, for: certificate), "issued by the node CA")
            #expect(NodeAuthority.identity(of: certificate) == .node(zone: authority.zone, region: RegionID("eu")!, id: "eu-7"))
            let names = try #require(try certificate.extensions.subjectAlternativeNames)
            #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [10, 1, 2, 3]))), "the control URL's host")
            #expect(try Certificate(pemEncoded: answer.coordinatorCA) == authority.coordinatorCA.certificate)
            let joined = try #require(try await harness.coordinator.nodes.node("eu-7"))
            #expect(joined.enrollment == .active && joined.certificateSerial == NodeAuthority.serial(of: certificate))
            #expect(try await harness.coordinator.nodes.isCurrent("eu-7", serial: NodeAuthority.serial(of: certificate)) != nil)

            // The token works once; an active node is not enrolled again before it is revoked.
            let again = try await Self.join(client, token: text, csr: try Self.request(P256.Signing.PrivateKey()))
            #expect(again.status == .unauthorized && String(buffer: again.body).contains("used already"))
            try await client.json(
                .post, "/v1/nodes", token: admin, body: ["region": "eu", "node_id": "eu-7", "control_url": "https://10.1.2.3:9101"], expect: .conflict)

            // Revoked: its certificate is no longer current; enrolled again, it gets a new token.
            let revoked = try await client.json(.post, "/v1/nodes/eu-7/revoke", token: admin)
            #expect(revoked["enrollment"] as? String == "revoked")
            #expect(try await harness.coordinator.nodes.isCurrent("eu-7", serial: NodeAuthority.serial(of: certificate)) == nil)
            try await client.json(.post, "/v1/nodes/eu-none/revoke", token: admin, expect: .notFound)
            try await client.json(
                .post, "/v1/nodes", token: admin, body: ["region": "eu", "node_id": "eu-7", "control_url": "https://10.1.2.3:9101"], expect: .created)

            let audit = try #require(try await client.json(.get, "/v1/audit?limit=500", token: admin)["items"] as? [[String: Any]])
            let actions = audit.filter { ($0["target"] as? String) == "node/eu-7" }.compactMap { $0["action"] as? String }
            #expect(actions.sorted() == ["node.enroll", "node.enroll", "node.join", "node.revoke"], "\(actions)")
            #expect(audit.contains { $0["action"] as? String == "node.join.refused" && ($0["detail"] as? [String: Any])?["reason"] as? String == "used" })
        }
    }

    @Test("unknown, expired and malformed tokens, and bad requests, are refused with the reason, and audited")
    func refusals() async throws {
        try await APITestHarness.run { harness, client in
            let admin = harness.tokens[.admin]!
            let enrolled = try await client.json(
                .post, "/v1/nodes", token: admin, body: ["region": "us", "node_id": "us-7", "control_url": "https://us-7.internal:9101"], expect: .created)
            let text = try #require(enrolled["join_token"] as? String)
            let csr = try Self.request(P256.Signing.PrivateKey())

            let missing = try await Self.join(client, token: nil, csr: csr)
            #expect(missing.status == .unauthorized && String(buffer: missing.body).contains("join token"))
            let unknown = try await Self.join(client, token: JoinToken.generate(pinning: String(repeating: "a", count: 64)).description, csr: csr)
            #expect(unknown.status == .unauthorized && String(buffer: unknown.body).contains("not known"))
            let garbage = try await Self.join(client, token: text, csr: "not a request")
            #expect(garbage.status == .unprocessableContent && String(buffer: garbage.body).contains("csr"))
            harness.clock.advance(days: 1)
            let expired = try await Self.join(client, token: text, csr: csr)
            #expect(expired.status == .unauthorized && String(buffer: expired.body).contains("expired"))
            #expect(try await harness.coordinator.nodes.node("us-7")?.enrollment == .enrolled, "nothing was applied")

            for (body, field) in [
                (["region": "mars", "node_id": "x", "control_url": "https://x:1"], "region"),
                (["region": "eu", "node_id": "no/slash", "control_url": "https://x:1"], "node_id"),
                (["region": "eu", "node_id": "x", "control_url": "ftp://x"], "control_url"),
            ] {
                let problem = try await client.json(.post, "/v1/nodes", token: admin, body: body, expect: .unprocessableContent)
                #expect(problem["field"] as? String == field)
            }
            let audit = try #require(try await client.json(.get, "/v1/audit?limit=500", token: admin)["items"] as? [[String: Any]])
            let refused = audit.filter { $0["action"] as? String == "node.join.refused" }.compactMap { ($0["detail"] as? [String: Any])?["reason"] as? String }
            #expect(refused.sorted() == ["expired", "unknown"])
        }
    }
}

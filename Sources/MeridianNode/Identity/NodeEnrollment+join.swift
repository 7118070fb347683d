import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import MeridianCore
import MeridianServer
import NIOCore
import NIOSSL
import X509

extension NodeEnrollment {
    /// Joins the coordinator at `coordinator` with a one-time join token, as `meridian node --join` does at its
    /// first start:
    ///
    /// 1. asks for the coordinator CA without trusting anyone yet, and goes on only if its SHA-256 is the one the
    ///    token pins (so a server in the way learns nothing and gives nothing);
    /// 2. makes its own P-256 key, and sends the token and a request for the key's certificate over TLS that
    ///    accepts only a server certificate of that CA naming the coordinator's host;
    /// 3. checks what comes back: the pinned CA again, a certificate for its key that names a node, issued by the
    ///    node CA.
    public static func join(token: JoinToken, coordinator: String, logger: Logger) async throws -> NodeEnrollment {
        let base = coordinator.hasSuffix("/") ? String(coordinator.dropLast()) : coordinator
        guard let url = URLComponents(string: base), url.scheme == "https", url.host != nil else {
            throw NodeError(.joinRefused, "--coordinator \(coordinator) must be the coordinator's node port, https://HOST:8443")
        }
        let http = HTTPClient.shared

        // 1. The coordinator CA, checked against the pin.
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        unverified.minimumTLSVersion = .tlsv13
        var ask = HTTPClientRequest(url: base + NodeProtocol.authorityPath)
        ask.tlsConfiguration = unverified
        let authority: Certificate
        do {
            let response = try await http.execute(ask, timeout: .seconds(15))
            let body = try await response.body.collect(upTo: 64 << 10)
            guard response.status == .ok else {
                throw NodeError(.coordinatorNotTrusted, "\(base)\(NodeProtocol.authorityPath) answered \(response.status.code), not the coordinator CA")
            }
            authority = try Certificate(pemEncoded: String(buffer: body))
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.coordinatorUnavailable, "cannot ask \(base) for its CA: \(error)")
        }
        guard authority.fingerprint == token.coordinatorCAFingerprint else {
            throw NodeError(
                .coordinatorNotTrusted,
                "the server at \(base) presents a coordinator CA with SHA-256 \(authority.fingerprint), but the join token pins \(token.coordinatorCAFingerprint); check --coordinator, or enroll the node on this coordinator for a token of its own")
        }

        // 2. The join, over TLS that trusts only that CA.
        let key = P256.Signing.PrivateKey()
        var verified = TLSConfiguration.makeClientConfiguration()
        verified.minimumTLSVersion = .tlsv13
        verified.trustRoots = .certificates([try NIOSSLCertificate(bytes: authority.derBytes, format: .der)])
        verified.certificateVerification = .fullVerification
        var request = HTTPClientRequest(url: base + NodeProtocol.joinPath)
        request.method = .POST
        request.tlsConfiguration = verified
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(NodeJoinRequest(csr: try CertificateSigningRequest.make(for: key, subject: "node")))))
        let answer: NodeJoinAnswer
        do {
            let response = try await http.execute(request, timeout: .seconds(15))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                throw NodeError(.joinRefused, "the coordinator refused the join (\(response.status.code)): \(ProblemDetails.detail(of: Data(buffer: body)))")
            }
            answer = try JSONDecoder().decode(NodeJoinAnswer.self, from: Data(buffer: body))
        } catch let error as NodeError {
            throw error
        } catch let error as NIOSSLError {
            throw NodeError(
                .coordinatorNotTrusted,
                "the TLS handshake with \(base) failed (\(error)); the coordinator's certificate must name \(url.host ?? "its host") (meridian coordinator --node-hostname)")
        } catch {
            throw NodeError(.coordinatorUnavailable, "the join request to \(base) failed: \(error)")
        }

        // 3. What came back.
        do {
            let coordinatorCA = try Certificate(pemEncoded: answer.coordinatorCA)
            guard coordinatorCA.fingerprint == token.coordinatorCAFingerprint else {
                throw NodeError(.coordinatorNotTrusted, "the coordinator answered with another CA than the one the token pins")
            }
            let certificate = try Certificate(pemEncoded: answer.certificate)
            guard case .node(let zone, let region, let node)? = certificate.nodeIdentity, region.rawValue == answer.region, node == answer.node else {
                throw NodeError(.joinRefused, "the certificate the coordinator issued names no node, or another than \(answer.node)")
            }
            guard let raw = Data(base64Encoded: answer.bundleKey) else { throw NodeError(.joinRefused, "the coordinator's bundle key is not base64") }
            let enrollment = NodeEnrollment(
                region: region, node: node, zone: zone, controlURL: answer.controlURL, coordinatorURL: base, key: key, certificate: certificate,
                nodeCA: try Certificate(pemEncoded: answer.nodeCA), coordinatorCA: coordinatorCA,
                bundleKey: try Curve25519.Signing.PublicKey(rawRepresentation: raw), joinTokenHash: token.hash,
                regionKey: try answer.regionKey.map { try Self.regionKey($0) })
            try enrollment.check()
            logger.notice(
                "node: joined the coordinator at \(base) as \(node) of region \(region)",
                metadata: ["control_url": "\(answer.controlURL)", "certificate_expires": "\(ISOTime.string(certificate.notValidAfter))"])
            return enrollment
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.joinRefused, "the coordinator's answer to the join cannot be used: \(error)")
        }
    }
}

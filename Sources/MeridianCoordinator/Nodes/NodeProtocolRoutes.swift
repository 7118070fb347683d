import Crypto
import Foundation
import Hummingbird
import MeridianCore
import MeridianServer
import X509

/// The coordinator's side of the node protocol (``NodeProtocol``) that nodes call, with the node token (not part
/// of the admin API, whose tokens have roles):
///
/// * `GET /node/v1/bundle` (a ``BundlePull``): the region's newest signed bundle (200), or 204 when the node
///   already has that version. The call also registers the node and where to push to.
/// * `POST /node/v1/reports` (a ``NodeReport``): the node's ACK or NACK of a bundle it pulled.
struct NodeProtocolRoutes: Sendable {
    let config: ConfigRepository
    let nodes: NodeRepository
    let catalog: RegionCatalog
    /// Issues the certificate of a node that joins.
    let authority: NodeAuthority
    /// The bundle-signing public key, which a node that joins is given.
    let bundleKey: Curve25519.Signing.PublicKey
    /// Hex SHA-256 of the node token; nil refuses every call.
    let tokenHash: String?
    let now: @Sendable () -> Date

    func register(on router: Router<CoordinatorRequestContext>) {
        // A node's first call, with its one-time join token: its key is certified and it learns whom to trust.
        router.post(RouterPath(NodeProtocol.joinPath)) { request, context in
            let address = context.remoteAddress?.ipAddress ?? "-"
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), let token = JoinToken(String(header.dropFirst(7))) else {
                throw Problem.unauthorized("send the join token from meridian nodes enroll as Authorization: Bearer mrj_…")
            }
            let node: NodeRecord
            switch try await nodes.joining(tokenHash: token.hash, at: now()) {
            case .success(let found):
                node = found
            case .failure(let refusal):
                try await nodes.refusedJoin(refusal, node: nil, sourceIP: address, at: now())
                context.logger.warning("node protocol: a join was refused", metadata: ["reason": "\(refusal.rawValue)"])
                throw Problem.unauthorized(Self.reason(refusal))
            }
            let body = try await request.body.collect(upTo: NodeProtocol.maximumReportSize)
            let joining: NodeJoinRequest
            do {
                joining = try JSONDecoder().decode(NodeJoinRequest.self, from: Data(buffer: body))
            } catch {
                throw Problem(.badRequest, "the body is not {csr: \"-----BEGIN CERTIFICATE REQUEST-----…\"}")
            }
            let publicKey: Certificate.PublicKey
            do {
                publicKey = try NodeAuthority.publicKey(ofRequest: joining.csr)
            } catch let error as CoordinatorError {
                throw Problem.invalid("csr", error.reason)
            }
            guard let region = RegionID(node.region) else { throw Problem.invalid("region", "the node's region \(node.region) is not known") }
            let certificate = try authority.issueNodeCertificate(
                publicKey: publicKey, region: region, node: node.id, controlURL: node.controlURL, at: now())
            guard try await nodes.join(
                tokenHash: token.hash, publicKey: Data(publicKey.subjectPublicKeyInfoBytes).base64EncodedString(),
                serial: NodeAuthority.serial(of: certificate), expiresAt: certificate.notValidAfter, sourceIP: address, at: now()) != nil
            else {
                try await nodes.refusedJoin(.used, node: node.id, sourceIP: address, at: now())
                throw Problem.unauthorized(Self.reason(.used))
            }
            context.logger.notice("node protocol: node \(node.id) joined", metadata: ["region": "\(node.region)"])
            let answer = NodeJoinAnswer(
                region: node.region, node: node.id, controlURL: node.controlURL, certificate: try certificate.serializeAsPEM().pemString,
                nodeCA: authority.nodeCA.pem, coordinatorCA: authority.coordinatorCA.pem, bundleKey: bundleKey.rawRepresentation.base64EncodedString())
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(answer))))
        }
        router.get(RouterPath(NodeProtocol.pullPath)) { request, _ in
            try authorize(request)
            let query = request.uri.queryParameters
            let region = try region(query.get(BundlePull.regionParameter))
            let node = try nodeID(query.get(BundlePull.nodeParameter))
            let controlURL = try controlURL(query.get(BundlePull.controlURLParameter))
            guard let text = query.get(BundlePull.versionParameter), let version = Int(text), version >= 0 else {
                throw Problem.invalid("version", "version must be the node's version in force, a whole number (0 for none)")
            }
            try await nodes.seen(node: node, region: region, controlURL: controlURL, at: now())
            guard let bundle = try await config.bundle(for: region) else {
                throw Problem(.serviceUnavailable, "no config version is published yet; try again shortly")
            }
            guard bundle.version != version else { return Response(status: .noContent) }
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bundle.signed)))
        }
        router.post(RouterPath(NodeProtocol.reportsPath)) { request, context in
            try authorize(request)
            let body = try await request.body.collect(upTo: NodeProtocol.maximumReportSize)
            let report: NodeReport
            do {
                report = try JSONDecoder().decode(NodeReport.self, from: Data(buffer: body))
            } catch let error as DecodingError {
                // Which field is missing or wrong, as the admin API says it (ack or nack for report.status).
                var problem = ProblemMiddleware.problem(for: error)
                problem.detail = "the report is not {region, node, control_url, report: {status, version, error}}: " + problem.detail
                throw problem
            }
            let region = try region(report.region)
            let node = try nodeID(report.node)
            try await nodes.seen(node: node, region: region, controlURL: try controlURL(report.controlURL), at: now())
            let status: NodeRecord.Result = report.report.status == .ack ? .ack : .nack
            try await nodes.record(node: node, result: status, version: report.report.version, error: report.report.error, at: now())
            if status == .nack {
                context.logger.error("config: node \(node) refused its bundle", metadata: ["error": "\(report.report.error ?? "-")"])
            }
            return Response(status: .noContent)
        }
    }

    static func reason(_ refusal: NodeRepository.JoinRefusal) -> String {
        switch refusal {
        case .unknown: "the join token is not known (enroll the node again with meridian nodes enroll)"
        case .used: "the join token was used already; each works once (revoke the node and enroll it again)"
        case .expired: "the join token expired; enroll the node again with meridian nodes enroll for a new one"
        }
    }

    private func authorize(_ request: Request) throws {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw Problem.unauthorized("send the node token as Authorization: Bearer <token>")
        }
        guard let tokenHash, BearerToken.matches(authorization: header, hash: tokenHash) else {
            throw Problem.unauthorized("the node token is not valid")
        }
    }

    private func region(_ text: String?) throws -> RegionID {
        guard let text, let id = RegionID(text), catalog.region(id) != nil else {
            throw Problem.invalid("region", "region \"\(text ?? "")\" is not one of \(catalog.regionIDs.map(\.rawValue).joined(separator: ", "))")
        }
        return id
    }

    private func nodeID(_ text: String?) throws -> String {
        guard let text, (1...64).contains(text.count), text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw Problem.invalid("node", "node must be the node's id (1 to 64 letters, digits, - _ .), not \"\(text ?? "")\"")
        }
        return text
    }

    private func controlURL(_ text: String?) throws -> String {
        guard let text, let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, text.count <= 300 else {
            throw Problem.invalid("control_url", "control_url must be the node's control API URL (http or https), not \"\(text ?? "")\"")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}

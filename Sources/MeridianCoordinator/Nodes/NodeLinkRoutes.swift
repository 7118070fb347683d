import Crypto
import Foundation
import Hummingbird
import MeridianCore
import MeridianServer
import X509

/// The coordinator's node port: the side of the node protocol (``NodeProtocol``) that nodes call, over mutual
/// TLS. A node is who its certificate says (``NodeIdentity``): the region and id in it, checked against the
/// `nodes` table (enrolled, not revoked, this certificate current), decide what it gets; nothing in a request
/// does.
///
/// * `GET /node/v1/ca`: the coordinator CA's certificate, for a node about to join to check against its token;
/// * `POST /node/v1/join`: a node's first call, with its join token and no certificate;
/// * `POST /node/v1/renew`: a new certificate for the node calling;
/// * `GET /node/v1/bundle?version=N`: the ``ConfigUpdate`` from version N to the newest of the caller's region, or 204;
/// * `POST /node/v1/reports` (a ``BundleReport``): the caller's ACK or NACK of a bundle it pulled.
///
/// Every refusal is logged, and audited as `node.refused` (once per node and reason in ten minutes, so a
/// revoked node pulling every 30 s does not flood the log).
struct NodeLinkRoutes: Sendable {
    let config: ConfigRepository
    let nodes: NodeRepository
    let catalog: RegionCatalog
    /// Issues the certificates of nodes that join or renew.
    let authority: NodeAuthority
    /// The bundle-signing public key, which a node that joins is given.
    let bundleKey: Curve25519.Signing.PublicKey
    /// The region keys webhook secrets are sealed to: a node gets its region's when it joins and renews.
    let regionKeys: RegionKeys
    let refusals: RefusalLog
    /// The coordinator's clock, for records and token expiry. Certificates are issued on the machine's clock,
    /// which TLS checks them against.
    let now: @Sendable () -> Date

    func register(on router: Router<LinkRequestContext>) {
        router.get(RouterPath(NodeProtocol.authorityPath)) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/x-pem-file"],
                body: .init(byteBuffer: ByteBuffer(string: authority.coordinatorCA.certificate.pem)))
        }
        router.post(RouterPath(NodeProtocol.joinPath)) { request, context in try await join(request, context) }
        router.post(RouterPath(NodeProtocol.renewPath)) { request, context in
            let node = try await caller(context)
            let publicKey = try await certificateRequest(request)
            let certificate = try authority.issueNodeCertificate(
                publicKey: publicKey, region: try region(of: node), node: node.id, controlURL: node.controlURL, at: Date())
            try await nodes.renew(
                node.id, publicKey: Data(publicKey.subjectPublicKeyInfoBytes).base64EncodedString(), serial: certificate.serialHex,
                expiresAt: certificate.notValidAfter, sourceIP: context.remoteAddress?.ipAddress ?? "-", at: now())
            context.logger.info("node link: node \(node.id) renewed its certificate", metadata: ["expires": "\(certificate.notValidAfter)"])
            return try json(NodeRenewal(certificate: certificate.pem, regionKey: try regionKey(of: node)))
        }
        router.get(RouterPath(NodeProtocol.pullPath)) { request, context in
            let node = try await caller(context)
            guard let text = request.uri.queryParameters.get(BundlePull.versionParameter), let version = Int(text), version >= 0 else {
                throw Problem.invalid("version", "version must be the node's version in force, a whole number (0 for none)")
            }
            try await nodes.seen(node.id, at: now())
            guard let update = try await config.update(for: try region(of: node), from: version) else {
                throw Problem(.serviceUnavailable, "no config version is published yet; try again shortly")
            }
            guard let json = update.json else {
                // The node has the newest version in force already (from its last-known-good file after a new
                // enrollment, say): that is its ACK, as a pull answered 204 sends no report.
                if node.appliedVersion != version || node.lastResult != .ack {
                    try await nodes.record(node: node.id, result: .ack, version: version, error: nil, at: now())
                }
                return Response(status: .noContent)
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        router.post(RouterPath(NodeProtocol.reportsPath)) { request, context in
            let node = try await caller(context)
            let body = try await request.body.collect(upTo: NodeProtocol.maximumReportSize)
            let report: BundleReport
            do {
                report = try JSONDecoder().decode(BundleReport.self, from: Data(buffer: body))
            } catch let error as DecodingError {
                // Which field is missing or wrong, as the admin API says it (ack or nack for status).
                var problem = ProblemMiddleware.problem(for: error)
                problem.detail = "the report is not {status, offered, version, error}: " + problem.detail
                throw problem
            }
            do {
                // Signed times are on the machines' clocks, as certificates are.
                try authority.check(report, by: node, now: Date())
            } catch let error as CoreError {
                throw await refuse(.unsigned, node: node.id, context.remoteAddress?.ipAddress ?? "-", context, "the report is refused: \(error.reason)")
            }
            let status: NodeRecord.Result = report.status == .ack ? .ack : .nack
            try await nodes.record(node: node.id, result: status, version: report.version, error: report.error, signed: report.signed, at: now())
            if status == .nack {
                context.logger.error("config: node \(node.id) refused its bundle", metadata: ["error": "\(report.error ?? "-")"])
            }
            return Response(status: .noContent)
        }
    }

    // MARK: - Joining

    /// A node's first call, with its one-time join token: its key is certified and it learns whom to trust.
    func join(_ request: Request, _ context: LinkRequestContext) async throws -> Response {
        let address = context.remoteAddress?.ipAddress ?? "-"
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "), let token = JoinToken(String(header.dropFirst(7))) else {
            throw Problem.unauthorized("send the join token from meridian nodes enroll as Authorization: Bearer mrj_…")
        }
        let node: NodeRecord
        switch try await nodes.joining(tokenHash: token.hash, at: now()) {
        case .success(let found):
            node = found
        case .failure(let refusal):
            try await nodes.refusedJoin(refusal, tokenHash: token.hash, sourceIP: address, at: now())
            context.logger.warning("node link: a join was refused", metadata: ["reason": "\(refusal.rawValue)", "from": "\(address)"])
            throw Problem.unauthorized(Self.reason(refusal))
        }
        let publicKey = try await certificateRequest(request)
        let certificate = try authority.issueNodeCertificate(
            publicKey: publicKey, region: try region(of: node), node: node.id, controlURL: node.controlURL, at: Date())
        guard
            try await nodes.join(
                tokenHash: token.hash, publicKey: Data(publicKey.subjectPublicKeyInfoBytes).base64EncodedString(), serial: certificate.serialHex,
                expiresAt: certificate.notValidAfter, sourceIP: address, at: now()) != nil
        else {
            try await nodes.refusedJoin(.used, tokenHash: token.hash, sourceIP: address, at: now())
            throw Problem.unauthorized(Self.reason(.used))
        }
        context.logger.notice("node link: node \(node.id) joined", metadata: ["region": "\(node.region)", "from": "\(address)"])
        return try json(
            NodeJoinAnswer(
                region: node.region, node: node.id, controlURL: node.controlURL, certificate: certificate.pem,
                nodeCA: authority.nodeCA.certificate.pem, coordinatorCA: authority.coordinatorCA.certificate.pem,
                bundleKey: bundleKey.rawRepresentation.base64EncodedString(), regionKey: try regionKey(of: node)))
    }

    /// The private key of the node's region, base64, for the bundles' sealed secrets; over the node link only.
    func regionKey(of node: NodeRecord) throws -> String {
        regionKeys.privateKey(for: try region(of: node)).rawRepresentation.base64EncodedString()
    }

    static func reason(_ refusal: NodeRepository.JoinRefusal) -> String {
        switch refusal {
        case .unknown: "the join token is not known (enroll the node again with meridian nodes enroll)"
        case .used: "the join token was used already; each works once (revoke the node and enroll it again)"
        case .expired: "the join token expired; enroll the node again with meridian nodes enroll for a new one"
        }
    }

    /// The key of the body's certificate request.
    func certificateRequest(_ request: Request) async throws -> Certificate.PublicKey {
        let body = try await request.body.collect(upTo: NodeProtocol.maximumReportSize)
        let joining: NodeJoinRequest
        do {
            joining = try JSONDecoder().decode(NodeJoinRequest.self, from: Data(buffer: body))
        } catch {
            throw Problem(.badRequest, "the body is not {csr: \"-----BEGIN CERTIFICATE REQUEST-----…\"}")
        }
        do {
            return try NodeAuthority.publicKey(ofRequest: joining.csr)
        } catch let error as CoordinatorError {
            throw Problem.invalid("csr", error.reason)
        }
    }

    // MARK: - Who calls

    /// Why a node's certificate is refused.
    enum Refusal: String, Sendable {
        case noIdentity = "no-identity", notEnrolled = "not-enrolled", wrongRegion = "wrong-region", revoked, rejoining, replaced
        /// A report not signed by the node that sent it.
        case unsigned = "unsigned-report"
    }

    /// The enrolled node the client's certificate names; anything else is refused with the reason, logged and
    /// audited.
    func caller(_ context: LinkRequestContext) async throws -> NodeRecord {
        guard let certificate = await context.peerCertificate() else {
            throw Problem.unauthorized("present this node's certificate; a node without one joins first (meridian node --join TOKEN)")
        }
        let address = context.remoteAddress?.ipAddress ?? "-"
        guard case .node(let zone, let region, let id)? = certificate.nodeIdentity, zone == authority.zone else {
            throw await refuse(.noIdentity, node: nil, address, context, "the certificate names no node of \(authority.zone)")
        }
        guard let node = try await nodes.node(id) else {
            throw await refuse(.notEnrolled, node: id, address, context, "node \(id) is not enrolled here")
        }
        guard node.region == region.rawValue else {
            throw await refuse(
                .wrongRegion, node: id, address, context, "the certificate is for region \(region), but node \(id) is enrolled in \(node.region)")
        }
        switch node.enrollment {
        case .revoked:
            throw await refuse(
                .revoked, node: id, address, context,
                "node \(id) was revoked\(node.revokedAt.map { " at \(ISOTime.string($0))" } ?? ""); an admin enrolls it again (meridian nodes enroll) and it starts with --join NEW-TOKEN")
        case .enrolled, .registered:
            throw await refuse(
                .rejoining, node: id, address, context, "node \(id) was enrolled again; it starts with --join and the new token")
        case .active:
            break
        }
        let serial = certificate.serialHex
        guard serial == node.certificateSerial || serial == node.previousCertificateSerial else {
            throw await refuse(
                .replaced, node: id, address, context, "certificate \(serial) of node \(id) was replaced by a renewal or a later join")
        }
        return node
    }

    /// Logs a refusal, audits it (at most once per node and reason in ten minutes), and returns the 403.
    func refuse(_ reason: Refusal, node: String?, _ address: String, _ context: LinkRequestContext, _ detail: String) async -> Problem {
        context.logger.warning("node link: refused \(node ?? "a certificate")", metadata: ["reason": "\(reason.rawValue)", "from": "\(address)"])
        if await refusals.shouldRecord(node: node ?? address, reason: reason.rawValue, at: now()) {
            do {
                try await nodes.refused(node: node, reason: reason.rawValue, sourceIP: address, at: now())
            } catch {
                context.logger.error("node link: cannot audit a refusal", metadata: ["error": "\(error)"])
            }
        }
        return Problem.forbidden(detail)
    }

    func region(of node: NodeRecord) throws -> RegionID {
        guard let region = RegionID(node.region), catalog.region(region) != nil else {
            throw Problem(.conflict, "node \(node.id) is enrolled in region \(node.region), which Regions/ no longer lists")
        }
        return region
    }

    func json(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }
}

/// Which refusals were audited lately, so that a node retrying with a refused certificate makes one audit entry
/// per reason in ten minutes, not one per try.
actor RefusalLog {
    private var last: [String: Date] = [:]
    static let interval: TimeInterval = 600

    func shouldRecord(node: String, reason: String, at date: Date) -> Bool {
        let key = node + " " + reason
        if let previous = last[key], date.timeIntervalSince(previous) < Self.interval { return false }
        if last.count > 10_000 { last.removeAll() }
        last[key] = date
        return true
    }
}

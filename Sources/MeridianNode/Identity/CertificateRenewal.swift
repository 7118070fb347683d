import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import MeridianCore
import MeridianServer
import NIOCore
import NIOHTTP1
import X509

/// Keeps the node's certificate current: once a third of its lifetime is left (eight hours of a day's
/// certificate) the node makes a new key, asks the coordinator to certify it (`POST /node/v1/renew`, with the
/// certificate it has), writes both to `identity/node.pem` and puts them in use for the next handshake.
///
/// While renewal fails the node keeps serving mail with the config it has; it says so in its log (once, then
/// hourly) and `meridian_node_certificate_renewals_total{result="failed"}` counts up. Past expiry the
/// coordinator refuses it, and the log says how to enroll it again.
actor CertificateRenewal {
    let directory: String
    let endpoints: CoordinatorEndpoints
    var enrollment: NodeEnrollment
    let credentials: LinkCredentials
    let metrics: NodeMetrics
    let logger: Logger
    /// The machine's clock (TLS checks certificates against it); tests set their own.
    let now: @Sendable () -> Date
    private var failures = 0
    private var lastWarning: Date?

    init(
        directory: String, endpoints: CoordinatorEndpoints, enrollment: NodeEnrollment, credentials: LinkCredentials, metrics: NodeMetrics, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.directory = directory
        self.endpoints = endpoints
        self.enrollment = enrollment
        self.credentials = credentials
        self.metrics = metrics
        self.logger = logger
        self.now = now
    }

    /// When the certificate is due for renewal: a third of its lifetime before it expires.
    var due: Date {
        let certificate = enrollment.certificate
        return certificate.notValidAfter.addingTimeInterval(-certificate.notValidAfter.timeIntervalSince(certificate.notValidBefore) / 3)
    }

    /// Renews when due; otherwise nothing.
    func check() async {
        guard now() >= due else { return }
        do {
            try await renew()
            if failures > 0 { logger.info("node: the certificate was renewed after \(failures) failed tries") }
            failures = 0
            lastWarning = nil
        } catch {
            failures += 1
            metrics.certificateRenewal(ok: false)
            let date = now()
            guard lastWarning.map({ date.timeIntervalSince($0) >= 3600 }) ?? true else { return }
            lastWarning = date
            if date >= enrollment.expiresAt {
                logger.error(
                    "node: this node's certificate expired at \(ISOTime.string(enrollment.expiresAt)) and cannot be renewed; it keeps serving mail with the config it has, but the coordinator refuses it. Enroll it again: meridian nodes revoke \(enrollment.node); meridian nodes enroll \(enrollment.region) \(enrollment.node) --control-url \(enrollment.controlURL); then restart it with --join NEW-TOKEN",
                    metadata: ["error": "\(error)"])
            } else {
                logger.warning(
                    "node: cannot renew this node's certificate, which expires at \(ISOTime.string(enrollment.expiresAt)); serving on, trying again every minute",
                    metadata: ["error": "\(error)"])
            }
        }
    }

    /// A new key, certified by the coordinator (the first replica that answers), saved and put in use.
    func renew() async throws {
        let key = P256.Signing.PrivateKey()
        let ask = try JSONEncoder().encode(NodeJoinRequest(csr: try CertificateSigningRequest.make(for: key, subject: enrollment.node)))
        let tls = credentials.client
        let (body, _) = try await endpoints.first { coordinator in
            var request = HTTPClientRequest(url: coordinator + NodeProtocol.renewPath)
            request.method = .POST
            request.tlsConfiguration = tls
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: ask))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else {
                throw NodeError(.renewalFailed, "the coordinator at \(coordinator) answered \(response.status.code): \(ProblemDetails.detail(of: Data(buffer: body)))")
            }
            return Data(buffer: body)
        }
        let renewal = try JSONDecoder().decode(NodeRenewal.self, from: body)
        var renewed = enrollment
        renewed.key = key
        renewed.certificate = try Certificate(pemEncoded: renewal.certificate)
        if let key = renewal.regionKey { renewed.regionKey = try NodeEnrollment.regionKey(key) }
        try renewed.check()
        try renewed.saveCertificate(directory: directory)
        try renewed.saveRegionKey(directory: directory)
        credentials.replace(with: try .init(key: key, certificate: renewed.certificate))
        enrollment = renewed
        metrics.certificateRenewal(ok: true)
        metrics.certificateExpiry(renewed.expiresAt)
        logger.info("node: certificate renewed", metadata: ["expires": "\(ISOTime.string(renewed.expiresAt))"])
    }
}

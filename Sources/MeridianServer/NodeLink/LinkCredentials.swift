import Crypto
import NIOCore
import NIOSSL
import Synchronization
import X509

/// One side of the node link's mutual TLS: the key and certificate this party presents, and the certificate
/// authority its peer's certificate must come from. The coordinator presents a certificate of the coordinator CA
/// and accepts nodes' certificates of the node CA; a node the other way round, so no node can pose as the
/// coordinator and the coordinator's certificate is no node's.
///
/// The key and certificate are replaced when they are renewed. Listeners read them at each handshake, so they
/// keep running; clients build their configuration from the current pair at each request, and their connection
/// pools open new connections once it changed.
public final class LinkCredentials: Sendable {
    /// A key, its certificate, and the forms NIOSSL takes them in.
    public struct Pair: Sendable {
        public let key: P256.Signing.PrivateKey
        public let certificate: Certificate
        let nioCertificate: NIOSSLCertificate
        let nioKey: NIOSSLPrivateKey

        public init(key: P256.Signing.PrivateKey, certificate: Certificate) throws {
            self.key = key
            self.certificate = certificate
            nioCertificate = try NIOSSLCertificate(bytes: certificate.derBytes, format: .der)
            nioKey = try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)
        }
    }

    /// Whether a listener requires a client certificate or only checks one that is sent (the coordinator's node
    /// port, where a node that has none yet joins).
    public enum ClientCertificates: Sendable {
        case required, optional
    }

    private let pair: Mutex<Pair>
    /// The authority the peer's certificate must come from.
    public let peerAuthority: Certificate
    private let peerRoot: NIOSSLCertificate

    public init(_ pair: Pair, peerAuthority: Certificate) throws {
        self.pair = Mutex(pair)
        self.peerAuthority = peerAuthority
        peerRoot = try NIOSSLCertificate(bytes: peerAuthority.derBytes, format: .der)
    }

    /// The pair in use now.
    public var current: Pair { pair.withLock { $0 } }

    /// Puts a renewed pair in use, for the next handshake and the next request.
    public func replace(with renewed: Pair) {
        pair.withLock { $0 = renewed }
    }

    /// A client's configuration: present the current certificate; accept only a server certificate of the peer
    /// authority that names the host called; TLS 1.3.
    public var client: TLSConfiguration {
        let current = self.current
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        tls.trustRoots = .certificates([peerRoot])
        tls.certificateVerification = .fullVerification
        tls.certificateChain = [.certificate(current.nioCertificate)]
        tls.privateKey = .privateKey(current.nioKey)
        return tls
    }

    /// A listener's configuration: serve the certificate current at each handshake; accept client certificates of
    /// the peer authority only; TLS 1.3.
    public func server(clientCertificates: ClientCertificates) -> TLSConfiguration {
        let current = self.current
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(current.nioCertificate)], privateKey: .privateKey(current.nioKey))
        tls.minimumTLSVersion = .tlsv13
        tls.trustRoots = .certificates([peerRoot])
        tls.certificateVerification = clientCertificates == .required ? .noHostnameVerification : .optionalVerification
        tls.sslContextCallback = { [self] _, promise in
            let now = self.current
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = [.certificate(now.nioCertificate)]
            override.privateKey = .privateKey(now.nioKey)
            promise.succeed(override)
        }
        return tls
    }
}

extension Channel {
    /// The certificate the peer presented in the TLS handshake of this channel (verified by it), or nil.
    public func peerCertificate() async throws -> Certificate? {
        guard let certificate = try await nioSSL_peerCertificate().get() else { return nil }
        return try Certificate(derEncoded: try certificate.toDERBytes())
    }
}

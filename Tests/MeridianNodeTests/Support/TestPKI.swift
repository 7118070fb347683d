import Crypto
import Foundation
import MeridianCore
import MeridianNode
import MeridianServer
import X509

/// What a coordinator would give a node when it joins, made here for nodes that run without one: a node CA and a
/// coordinator CA, a certificate for the node, the coordinator's certificate (for calling the node's control API
/// as the coordinator) and the bundle-signing key.
struct TestPKI: Sendable {
    static let shared = try! TestPKI()

    let zone = "meridian.test"
    let nodeCA: CertificateAuthority
    let coordinatorCA: CertificateAuthority
    let bundleKey = Curve25519.Signing.PrivateKey()

    init() throws {
        nodeCA = try .make("test node CA")
        coordinatorCA = try .make("test coordinator CA")
    }

    /// An enrollment for `node` of `region`, its certificate good for `lifetime` from `date`.
    func enrollment(node: String, region: RegionID, lifetime: TimeInterval = 86_400, at date: Date = Date()) throws -> NodeEnrollment {
        let key = P256.Signing.PrivateKey()
        let certificate = try nodeCA.issue(
            subject: node, publicKey: .init(key.publicKey),
            names: [.uniformResourceIdentifier(NodeIdentity.node(zone: zone, region: region, id: node).uri), CertificateAuthority.name(forHost: "127.0.0.1")],
            lifetime: lifetime, at: date)
        return NodeEnrollment(
            region: region, node: node, zone: zone, controlURL: "https://127.0.0.1:9101", coordinatorURL: "https://127.0.0.1:1", key: key,
            certificate: certificate, nodeCA: nodeCA.certificate, coordinatorCA: coordinatorCA.certificate, bundleKey: bundleKey.publicKey)
    }

    /// The coordinator's side of the node link, as the coordinator CA's certificate gives it.
    func coordinatorCredentials() throws -> LinkCredentials {
        let key = P256.Signing.PrivateKey()
        let certificate = try coordinatorCA.issue(
            subject: "coordinator", publicKey: .init(key.publicKey),
            names: [.uniformResourceIdentifier(NodeIdentity.coordinator(zone: zone).uri), CertificateAuthority.name(forHost: "127.0.0.1")],
            lifetime: 3600, at: Date())
        return try LinkCredentials(.init(key: key, certificate: certificate), peerAuthority: nodeCA.certificate)
    }

    /// A bundle signed with the bundle key, as the coordinator signs it.
    func signed(_ bundle: Data) throws -> Data {
        Data(try JSONEncoder().encode(try SignedBundle.sign(try NodeBundle.decode(bundle, expectedRegion: RegionID("eu")!), with: bundleKey)))
    }
}

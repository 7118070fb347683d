import Crypto
import Foundation
import MeridianCore
import SwiftASN1
import MeridianServer
import X509

/// Who a node is, as it learned when it joined, kept in `DATA-DIR/identity/` (the directory 0700, the files 0600):
///
/// * `node.pem`: its certificate, then its private key (P-256), in one file so that a renewal replaces both at once;
/// * `node-ca.pem` and `coordinator-ca.pem`: the node CA, and the coordinator CA whose certificates alone the node
///   accepts as the coordinator's;
/// * `enrollment.json`: its region, id and control URL as enrolled, the coordinator's URL, and the coordinator's
///   bundle-signing key, the only key whose bundles and directives it applies;
/// * `region.key`: the region's private key (X25519, base64), which opens the webhook secrets its bundles carry
///   sealed (``BundleSealing``); received at joining and at each renewal.
public struct NodeEnrollment: Sendable {
    public var region: RegionID
    public var node: String
    /// The service zone the node's identity URI names.
    public var zone: String
    public var controlURL: String
    public var coordinatorURL: String
    public var key: P256.Signing.PrivateKey
    public var certificate: Certificate
    public var nodeCA: Certificate
    public var coordinatorCA: Certificate
    public var bundleKey: Curve25519.Signing.PublicKey
    /// SHA-256 of the join token the node joined with: started again with the same token, it does not join again.
    public var joinTokenHash: String?
    /// The region key; nil for a node that joined before bundles were sealed, until its next renewal.
    public var regionKey: Curve25519.KeyAgreement.PrivateKey?

    public init(
        region: RegionID, node: String, zone: String, controlURL: String, coordinatorURL: String, key: P256.Signing.PrivateKey,
        certificate: Certificate, nodeCA: Certificate, coordinatorCA: Certificate, bundleKey: Curve25519.Signing.PublicKey,
        joinTokenHash: String? = nil, regionKey: Curve25519.KeyAgreement.PrivateKey? = nil
    ) {
        self.region = region
        self.node = node
        self.zone = zone
        self.controlURL = controlURL
        self.coordinatorURL = coordinatorURL
        self.key = key
        self.certificate = certificate
        self.nodeCA = nodeCA
        self.coordinatorCA = coordinatorCA
        self.bundleKey = bundleKey
        self.joinTokenHash = joinTokenHash
        self.regionKey = regionKey
    }

    /// The node's side of the node link: its certificate, accepting only the coordinator CA's.
    public func linkCredentials() throws -> LinkCredentials {
        try LinkCredentials(.init(key: key, certificate: certificate), peerAuthority: coordinatorCA)
    }

    /// The certificate's expiry.
    public var expiresAt: Date { certificate.notValidAfter }

    // MARK: - On disk

    struct Settings: Codable {
        var region: String
        var node: String
        var zone: String
        var controlURL: String
        var coordinatorURL: String
        var bundleKey: String
        var joinTokenHash: String?

        enum CodingKeys: String, CodingKey {
            case region, node, zone
            case controlURL = "control_url", coordinatorURL = "coordinator_url", bundleKey = "bundle_key", joinTokenHash = "join_token_sha256"
        }
    }

    static func path(_ directory: String, _ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// The enrollment kept in `directory`; nil when the node never joined.
    public static func load(directory: String) throws -> NodeEnrollment? {
        let settingsPath = path(directory, "enrollment.json")
        guard let data = FileManager.default.contents(atPath: settingsPath) else { return nil }
        func read(_ name: String) throws -> String {
            guard let text = try? String(contentsOfFile: path(directory, name), encoding: .utf8) else {
                throw NodeError(.enrollmentUnusable, "\(path(directory, name)) is missing; join again with a new token (--join)")
            }
            return text
        }
        do {
            let settings = try JSONDecoder().decode(Settings.self, from: data)
            let own = try PEMDocument.parseMultiple(pemString: try read("node.pem"))
            guard let certificate = own.first(where: { $0.discriminator == "CERTIFICATE" }),
                let privateKey = own.first(where: { $0.discriminator == "PRIVATE KEY" })
            else {
                throw NodeError(.enrollmentUnusable, "\(Self.path(directory, "node.pem")) must hold the node's certificate and its private key")
            }
            guard let region = RegionID(settings.region), let raw = Data(base64Encoded: settings.bundleKey) else {
                throw NodeError(.enrollmentUnusable, "\(settingsPath) names no region or bundle key")
            }
            let regionKey = try loadRegionKey(directory: directory)
            let enrollment = NodeEnrollment(
                region: region, node: settings.node, zone: settings.zone, controlURL: settings.controlURL, coordinatorURL: settings.coordinatorURL,
                key: try P256.Signing.PrivateKey(derRepresentation: privateKey.derBytes), certificate: try Certificate(derEncoded: certificate.derBytes),
                nodeCA: try Certificate(pemEncoded: try read("node-ca.pem")), coordinatorCA: try Certificate(pemEncoded: try read("coordinator-ca.pem")),
                bundleKey: try Curve25519.Signing.PublicKey(rawRepresentation: raw), joinTokenHash: settings.joinTokenHash, regionKey: regionKey)
            try enrollment.check()
            return enrollment
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError(.enrollmentUnusable, "the enrollment in \(directory) cannot be read (\(error)); join again with a new token (--join)")
        }
    }

    /// The region key kept in `directory`, nil when there is none yet.
    public static func loadRegionKey(directory: String) throws -> Curve25519.KeyAgreement.PrivateKey? {
        guard let text = try? String(contentsOfFile: path(directory, "region.key"), encoding: .utf8) else { return nil }
        guard let key = regionKey(base64: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw NodeError(.enrollmentUnusable, "\(path(directory, "region.key")) is not base64 of an X25519 key; join again with a new token (--join)")
        }
        return key
    }

    /// Writes the enrollment to `directory`, each file replaced whole and owner-only.
    public func save(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try PrivateFile.tighten(directory: directory)
        try PrivateFile.replace(Data(nodeCA.pem.utf8), at: Self.path(directory, "node-ca.pem"))
        try PrivateFile.replace(Data(coordinatorCA.pem.utf8), at: Self.path(directory, "coordinator-ca.pem"))
        try saveCertificate(directory: directory)
        try saveRegionKey(directory: directory)
        let settings = Settings(
            region: region.rawValue, node: node, zone: zone, controlURL: controlURL, coordinatorURL: coordinatorURL,
            bundleKey: bundleKey.rawRepresentation.base64EncodedString(), joinTokenHash: joinTokenHash)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try PrivateFile.replace(try encoder.encode(settings), at: Self.path(directory, "enrollment.json"))
    }

    /// A region key as the coordinator sends it and `region.key` keeps it: base64 of the raw X25519 key.
    static func regionKey(base64 text: String) -> Curve25519.KeyAgreement.PrivateKey? {
        Data(base64Encoded: text).flatMap { try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: $0) }
    }

    /// The region key in a join or renewal answer.
    static func regionKey(_ text: String) throws -> Curve25519.KeyAgreement.PrivateKey {
        guard let key = regionKey(base64: text) else {
            throw NodeError(.joinRefused, "the coordinator's region key is not base64 of an X25519 key")
        }
        return key
    }

    /// Writes the region key, when the node has one.
    public func saveRegionKey(directory: String) throws {
        guard let regionKey else { return }
        try PrivateFile.replace(Data((regionKey.rawRepresentation.base64EncodedString() + "\n").utf8), at: Self.path(directory, "region.key"))
    }

    /// Writes the certificate and key (after a renewal).
    public func saveCertificate(directory: String) throws {
        try PrivateFile.replace(Data((certificate.pem + "\n" + key.pemRepresentation + "\n").utf8), at: Self.path(directory, "node.pem"))
    }

    /// That the parts belong together: the certificate holds the key, was issued by the node CA, and names this
    /// node of this region.
    func check() throws {
        guard certificate.holds(key.publicKey) else {
            throw NodeError(.enrollmentUnusable, "the certificate in node.pem is not for the key beside it")
        }
        guard nodeCA.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw NodeError(.enrollmentUnusable, "the certificate in node.pem was not issued by node-ca.pem")
        }
        guard certificate.nodeIdentity == .node(zone: zone, region: region, id: node) else {
            throw NodeError(
                .enrollmentUnusable, "the certificate names \(certificate.nodeIdentity?.uri ?? "no node"), not node \(node) of region \(region)")
        }
    }
}

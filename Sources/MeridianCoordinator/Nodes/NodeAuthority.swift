import Crypto
import Foundation
import MeridianCore
import MeridianServer
import X509

/// The two certificate authorities of the node link's mutual TLS:
///
/// * the **node CA** issues each enrolled node its certificate, whose SPIFFE URI names its region and id
///   (``NodeIdentity``) and whose DNS or IP name is the host of its enrolled control URL; the coordinator
///   accepts only these as nodes, and takes a node's region and id from them;
/// * the **coordinator CA** issues the coordinator's own certificate, the only one a node accepts as the
///   coordinator's (so no node's certificate can stand in for it).
///
/// Both keys are P-256, kept sealed under the master key in the data directory (`node-ca.key`,
/// `coordinator-ca.key`) with their certificates beside them (`node-ca.pem`, `coordinator-ca.pem`).
public struct NodeAuthority: Sendable {
    /// The service zone the identities live in (`Regions/service.yaml`).
    public let zone: String
    public let nodeCA: CertificateAuthority
    public let coordinatorCA: CertificateAuthority

    /// How long a node's certificate is good for; a node renews it when a third is left.
    public static let nodeCertificateLifetime: TimeInterval = 24 * 3600
    /// How long the coordinator's own certificate is good for; it is made anew at every start and renewed daily.
    public static let coordinatorCertificateLifetime: TimeInterval = 7 * 86_400

    public init(zone: String, nodeCA: CertificateAuthority, coordinatorCA: CertificateAuthority) {
        self.zone = zone
        self.nodeCA = nodeCA
        self.coordinatorCA = coordinatorCA
    }

    /// Fresh authorities, kept nowhere (tests).
    public static func make(zone: String, at date: Date = Date()) throws -> NodeAuthority {
        NodeAuthority(
            zone: zone, nodeCA: try .make("Meridian node CA (\(zone))", at: date),
            coordinatorCA: try .make("Meridian coordinator CA (\(zone))", at: date))
    }

    /// The authorities kept in `dataDirectory`, each made on first use.
    public static func loadOrCreate(dataDirectory: String, secrets: SecretBox, zone: String, at date: Date = Date()) throws -> NodeAuthority {
        NodeAuthority(
            zone: zone,
            nodeCA: try load("node-ca", title: "Meridian node CA (\(zone))", dataDirectory: dataDirectory, secrets: secrets, at: date),
            coordinatorCA: try load("coordinator-ca", title: "Meridian coordinator CA (\(zone))", dataDirectory: dataDirectory, secrets: secrets, at: date))
    }

    // MARK: - Issuing

    /// The public key of a PEM certificate signing request, once its signature (the proof that the requester
    /// holds the private key) verifies. Only P-256 keys are taken.
    public static func publicKey(ofRequest pem: String) throws -> Certificate.PublicKey {
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw CoordinatorError(.certificateRequestInvalid, "the certificate signing request is not a PEM CSR: \(error)")
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw CoordinatorError(.certificateRequestInvalid, "the certificate signing request's signature does not verify")
        }
        guard P256.Signing.PublicKey(request.publicKey) != nil else {
            throw CoordinatorError(.certificateRequestInvalid, "the certificate signing request's key is not a P-256 key")
        }
        return request.publicKey
    }

    /// A node's certificate: its identity as a URI and the host of its control URL as a DNS name or IP address,
    /// good for ``nodeCertificateLifetime``.
    public func issueNodeCertificate(
        publicKey: Certificate.PublicKey, region: RegionID, node: String, controlURL: String, at date: Date
    ) throws -> Certificate {
        let identity = NodeIdentity.node(zone: zone, region: region, id: node)
        var names = [GeneralName.uniformResourceIdentifier(identity.uri)]
        if let host = URLComponents(string: controlURL)?.host { names.append(CertificateAuthority.name(forHost: host)) }
        return try nodeCA.issue(
            subject: "\(node) (\(region))", publicKey: publicKey, names: names, lifetime: Self.nodeCertificateLifetime, at: date)
    }

    /// The coordinator's certificate for `key`: its identity as a URI and the hosts nodes reach it by.
    public func issueCoordinatorCertificate(key: P256.Signing.PrivateKey, hosts: [String], at date: Date) throws -> Certificate {
        let names = [GeneralName.uniformResourceIdentifier(NodeIdentity.coordinator(zone: zone).uri)] + hosts.map(CertificateAuthority.name(forHost:))
        return try coordinatorCA.issue(
            subject: "Meridian coordinator", publicKey: .init(key.publicKey), names: names, lifetime: Self.coordinatorCertificateLifetime, at: date)
    }

    /// The coordinator's side of the node link: a new key and its certificate, trusting the node CA.
    public func coordinatorCredentials(hosts: [String], at date: Date) throws -> LinkCredentials {
        let key = P256.Signing.PrivateKey()
        return try LinkCredentials(
            .init(key: key, certificate: try issueCoordinatorCertificate(key: key, hosts: hosts, at: date)), peerAuthority: nodeCA.certificate)
    }

    // MARK: - Keeping

    /// An authority kept as `<name>.key` (sealed) and `<name>.pem`; made and written when missing.
    static func load(_ name: String, title: String, dataDirectory: String, secrets: SecretBox, at date: Date) throws -> CertificateAuthority {
        let keyPath = (dataDirectory as NSString).appendingPathComponent("\(name).key")
        let certificatePath = (dataDirectory as NSString).appendingPathComponent("\(name).pem")
        if let sealed = try? String(contentsOfFile: keyPath, encoding: .utf8), let pem = try? String(contentsOfFile: certificatePath, encoding: .utf8) {
            guard let raw = try? secrets.open(sealed.trimmingCharacters(in: .whitespacesAndNewlines)),
                let key = try? P256.Signing.PrivateKey(pemRepresentation: raw), let certificate = try? Certificate(pemEncoded: pem),
                certificate.holds(key.publicKey)
            else {
                throw CoordinatorError(
                    .signingKeyInvalid, "\(keyPath) does not open with the master key, or does not match \(certificatePath); restore both from a backup")
            }
            return CertificateAuthority(key: key, certificate: certificate)
        }
        let authority = try CertificateAuthority.make(title, at: date)
        try PrivateFile.write(Data((try secrets.seal(authority.key.pemRepresentation) + "\n").utf8), to: keyPath)
        try PrivateFile.write(Data(authority.certificate.pem.utf8), to: certificatePath)
        return authority
    }
}

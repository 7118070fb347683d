import Crypto
import Foundation
import MeridianCore
import SwiftASN1
import X509

/// The two certificate authorities of the node protocol's mutual TLS:
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
    public struct Authority: Sendable {
        public let key: P256.Signing.PrivateKey
        public let certificate: Certificate

        public var pem: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

        /// SHA-256 of the certificate's DER, hex: what a join token pins.
        public var fingerprint: String {
            var serializer = DER.Serializer()
            try? serializer.serialize(certificate)
            return SHA256.hash(data: serializer.serializedBytes).hexString
        }
    }

    /// The service zone the identities live in (`Regions/service.yaml`).
    public let zone: String
    public let nodeCA: Authority
    public let coordinatorCA: Authority

    /// How long a node's certificate is good for; a node renews it when a third is left.
    public static let nodeCertificateLifetime: TimeInterval = 24 * 3600
    /// How long the coordinator's own certificate is good for; it is made anew at every start and renewed daily.
    public static let coordinatorCertificateLifetime: TimeInterval = 7 * 86_400
    static let authorityLifetime: TimeInterval = 10 * 365 * 86_400

    public init(zone: String, nodeCA: Authority, coordinatorCA: Authority) {
        self.zone = zone
        self.nodeCA = nodeCA
        self.coordinatorCA = coordinatorCA
    }

    /// Fresh authorities, kept nowhere (tests, and a first start before they are written).
    public static func make(zone: String, at date: Date = Date()) throws -> NodeAuthority {
        NodeAuthority(
            zone: zone, nodeCA: try authority("Meridian node CA (\(zone))", key: P256.Signing.PrivateKey(), at: date),
            coordinatorCA: try authority("Meridian coordinator CA (\(zone))", key: P256.Signing.PrivateKey(), at: date))
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

    /// A node's certificate: its identity as a URI, the host of its control URL as a DNS name or IP address, for
    /// client and server authentication, good for ``nodeCertificateLifetime``.
    public func issueNodeCertificate(
        publicKey: Certificate.PublicKey, region: RegionID, node: String, controlURL: String, at date: Date
    ) throws -> Certificate {
        let identity = NodeIdentity.node(zone: zone, region: region, id: node)
        var names = [GeneralName.uniformResourceIdentifier(identity.uri)]
        if let host = URLComponents(string: controlURL)?.host { names.append(Self.name(forHost: host)) }
        return try issue(
            by: nodeCA, subject: "\(node) (\(region))", publicKey: publicKey, names: names, usage: [.clientAuth, .serverAuth],
            lifetime: Self.nodeCertificateLifetime, at: date)
    }

    /// The coordinator's certificate for `key`: its identity as a URI and the hosts nodes reach it by.
    public func issueCoordinatorCertificate(key: P256.Signing.PrivateKey, hosts: [String], at date: Date) throws -> Certificate {
        let names = [GeneralName.uniformResourceIdentifier(NodeIdentity.coordinator(zone: zone).uri)] + hosts.map(Self.name(forHost:))
        return try issue(
            by: coordinatorCA, subject: "Meridian coordinator", publicKey: .init(key.publicKey), names: names, usage: [.clientAuth, .serverAuth],
            lifetime: Self.coordinatorCertificateLifetime, at: date)
    }

    /// The identity a certificate's URI names, if it has one.
    public static func identity(of certificate: Certificate) -> NodeIdentity? {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return nil }
        for name in names {
            if case .uniformResourceIdentifier(let uri) = name, let identity = NodeIdentity(uri: uri) { return identity }
        }
        return nil
    }

    /// The serial number as hex, as the coordinator records a node's current certificate.
    public static func serial(of certificate: Certificate) -> String {
        certificate.serialNumber.bytes.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Internals

    private func issue(
        by authority: Authority, subject: String, publicKey: Certificate.PublicKey, names: [GeneralName], usage: [ExtendedKeyUsage.Usage],
        lifetime: TimeInterval, at date: Date
    ) throws -> Certificate {
        try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: date.addingTimeInterval(-300), notValidAfter: date.addingTimeInterval(lifetime),
            issuer: authority.certificate.subject, subject: try DistinguishedName { CommonName(subject) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(usage)
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: Self.keyIdentifier(authority.key.publicKey)[...])
            },
            issuerPrivateKey: .init(authority.key))
    }

    static func name(forHost host: String) -> GeneralName {
        if let address = IPAddressBytes(host) { return .ipAddress(ASN1OctetString(contentBytes: address[...])) }
        return .dnsName(host)
    }

    static func keyIdentifier(_ key: P256.Signing.PublicKey) -> [UInt8] {
        Array(Insecure.SHA1.hash(data: key.derRepresentation))
    }

    static func authority(_ title: String, key: P256.Signing.PrivateKey, at date: Date) throws -> Authority {
        let name = try DistinguishedName { CommonName(title) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: date.addingTimeInterval(-300), notValidAfter: date.addingTimeInterval(authorityLifetime),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(keyIdentifier: keyIdentifier(key.publicKey)[...])
            },
            issuerPrivateKey: .init(key))
        return Authority(key: key, certificate: certificate)
    }

    /// An authority kept as `<name>.key` (sealed) and `<name>.pem`; made and written when missing.
    static func load(_ name: String, title: String, dataDirectory: String, secrets: SecretBox, at date: Date) throws -> Authority {
        let keyPath = (dataDirectory as NSString).appendingPathComponent("\(name).key")
        let certificatePath = (dataDirectory as NSString).appendingPathComponent("\(name).pem")
        if let sealed = try? String(contentsOfFile: keyPath, encoding: .utf8), let pem = try? String(contentsOfFile: certificatePath, encoding: .utf8) {
            guard let raw = try? secrets.open(sealed.trimmingCharacters(in: .whitespacesAndNewlines)),
                let key = try? P256.Signing.PrivateKey(pemRepresentation: raw), let certificate = try? Certificate(pemEncoded: pem),
                P256.Signing.PublicKey(certificate.publicKey)?.rawRepresentation == key.publicKey.rawRepresentation
            else {
                throw CoordinatorError(
                    .signingKeyInvalid, "\(keyPath) does not open with the master key, or does not match \(certificatePath); restore both from a backup")
            }
            return Authority(key: key, certificate: certificate)
        }
        let key = P256.Signing.PrivateKey()
        let authority = try authority(title, key: key, at: date)
        try PrivateFile.write(Data((try secrets.seal(key.pemRepresentation) + "\n").utf8), to: keyPath)
        try PrivateFile.write(Data(authority.pem.utf8), to: certificatePath)
        return authority
    }
}

/// The four or sixteen bytes of an IPv4 or IPv6 address, or nil for a host name.
func IPAddressBytes(_ host: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, host.trimmingCharacters(in: ["[", "]"]), &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
    return nil
}

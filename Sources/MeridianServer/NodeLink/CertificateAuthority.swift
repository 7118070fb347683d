import Crypto
import Foundation
import SwiftASN1
import X509

/// A P-256 certificate authority of the node link: its key, its self-signed certificate, and the short-lived
/// leaf certificates it issues. The coordinator keeps two (``LinkCredentials`` says which trusts which); tests
/// make their own.
public struct CertificateAuthority: Sendable {
    public let key: P256.Signing.PrivateKey
    public let certificate: Certificate

    public init(key: P256.Signing.PrivateKey, certificate: Certificate) {
        self.key = key
        self.certificate = certificate
    }

    /// How long an authority's own certificate is good for.
    public static let lifetime: TimeInterval = 10 * 365 * 86_400

    /// A new authority named `title`.
    public static func make(_ title: String, key: P256.Signing.PrivateKey = P256.Signing.PrivateKey(), at date: Date = Date()) throws
        -> CertificateAuthority
    {
        let name = try DistinguishedName { CommonName(title) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: date.addingTimeInterval(-300), notValidAfter: date.addingTimeInterval(lifetime),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(keyIdentifier: Self.keyIdentifier(key.publicKey)[...])
            },
            issuerPrivateKey: .init(key))
        return CertificateAuthority(key: key, certificate: certificate)
    }

    /// A leaf certificate for `publicKey`, for client and server authentication, naming `names` (an identity URI
    /// and the host names or addresses it is reached by), good from five minutes ago (clock skew) for `lifetime`.
    public func issue(subject: String, publicKey: Certificate.PublicKey, names: [GeneralName], lifetime: TimeInterval, at date: Date) throws
        -> Certificate
    {
        try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: date.addingTimeInterval(-300), notValidAfter: date.addingTimeInterval(lifetime),
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(subject) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth, .serverAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(keyIdentifier: Self.keyIdentifier(key.publicKey)[...])
            },
            issuerPrivateKey: .init(key))
    }

    /// The name a certificate gives a host: an IP address, or a DNS name.
    public static func name(forHost host: String) -> GeneralName {
        if let address = ipAddressBytes(host) { return .ipAddress(ASN1OctetString(contentBytes: address[...])) }
        return .dnsName(host)
    }

    /// The four or sixteen bytes of an IPv4 or IPv6 address, or nil for a host name.
    static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host.trimmingCharacters(in: ["[", "]"]), &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func keyIdentifier(_ key: P256.Signing.PublicKey) -> [UInt8] {
        Array(Insecure.SHA1.hash(data: key.derRepresentation))
    }
}

import Crypto
import Foundation
import MeridianCore
import SwiftASN1
import X509

extension Certificate {
    /// The identity the certificate's SPIFFE URI names, if it has one.
    public var nodeIdentity: NodeIdentity? {
        guard let names = try? extensions.subjectAlternativeNames else { return nil }
        for name in names {
            if case .uniformResourceIdentifier(let uri) = name, let identity = NodeIdentity(uri: uri) { return identity }
        }
        return nil
    }

    /// The serial number in hex, as the coordinator records a node's certificates.
    public var serialHex: String {
        serialNumber.bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The DER bytes.
    public var derBytes: [UInt8] {
        var serializer = DER.Serializer()
        try? serializer.serialize(self)
        return serializer.serializedBytes
    }

    /// SHA-256 of the DER, hex: what a join token pins of the coordinator CA.
    public var fingerprint: String { SHA256.hash(data: derBytes).hexString }

    /// PEM text.
    public var pem: String { (try? serializeAsPEM().pemString) ?? "" }

    /// Whether the certificate's public key is `key`.
    public func holds(_ key: P256.Signing.PublicKey) -> Bool {
        P256.Signing.PublicKey(publicKey)?.rawRepresentation == key.rawRepresentation
    }
}

extension CertificateSigningRequest {
    /// A request for `key`'s certificate; the subject is not read by the coordinator, which names the node itself.
    public static func make(for key: P256.Signing.PrivateKey, subject: String) throws -> String {
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(subject) }, privateKey: .init(key), attributes: .init(),
            signatureAlgorithm: .ecdsaWithSHA256)
        return try request.serializeAsPEM().pemString
    }
}

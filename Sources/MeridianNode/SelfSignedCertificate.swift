import Crypto
import Foundation
import MeridianCore
import SwiftASN1
import X509

/// A self-signed certificate for STARTTLS on a development machine (`meridian up`). Senders on the
/// Internet accept it for opportunistic TLS, which does not check the chain; production uses a real one.
public enum SelfSignedCertificate {
    /// Creates `certificate.pem` and `key.pem` in `directory` unless both exist; returns their paths.
    public static func ensure(in directory: String, hostnames: [String]) throws -> (certificate: String, key: String) {
        let certificatePath = (directory as NSString).appendingPathComponent("certificate.pem")
        let keyPath = (directory as NSString).appendingPathComponent("key.pem")
        if FileManager.default.fileExists(atPath: certificatePath), FileManager.default.fileExists(atPath: keyPath) {
            return (certificatePath, keyPath)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CommonName(hostnames.first ?? "localhost")
            OrganizationName("Meridian development")
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(397 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(hostnames.map { GeneralName.dnsName($0) })
            },
            issuerPrivateKey: .init(key))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        let pem = PEMDocument(type: "CERTIFICATE", derBytes: serializer.serializedBytes).pemString
        try PrivateFile.write(Data(key.pemRepresentation.utf8), to: keyPath)
        try Data(pem.utf8).write(to: URL(fileURLWithPath: certificatePath))
        return (certificatePath, keyPath)
    }
}

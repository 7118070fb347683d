import Crypto
import Foundation

/// Ed25519 public keys as PEM (`-----BEGIN PUBLIC KEY-----`, SubjectPublicKeyInfo, RFC 8410), the form the
/// OpenSSL CLI reads: `openssl pkeyutl -verify -pubin -inkey canary.pub -rawin ...`.
public enum Ed25519PEM {
    /// The DER of an Ed25519 SubjectPublicKeyInfo up to the 32 key bytes: SEQUENCE { SEQUENCE { OID 1.3.101.112 },
    /// BIT STRING }.
    static let prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    public static func encode(_ key: Curve25519.Signing.PublicKey) -> String {
        let der = Data(prefix) + key.rawRepresentation
        let base64 = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN PUBLIC KEY-----\n\(base64)\n-----END PUBLIC KEY-----\n"
    }

    public static func decode(_ pem: String) -> Curve25519.Signing.PublicKey? {
        let body = pem.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard pem.contains("-----BEGIN PUBLIC KEY-----"), let der = Data(base64Encoded: body), der.count == prefix.count + 32,
            der.prefix(prefix.count).elementsEqual(prefix)
        else { return nil }
        return try? Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32))
    }
}

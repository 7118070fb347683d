import Crypto
import Foundation

/// A statement a node signs with the key of its certificate (ECDSA P-256 over SHA-256): its receipt for a
/// data-subject directive (``SignedReceipt``), its ACK or NACK of a bundle (``SignedReport``). The coordinator
/// checks the signature and the certificate against the node CA and the enrolled node, and keeps all three, so
/// that an auditor holding the node CA's certificate can check later which node said what.
public struct NodeSigned: Sendable, Codable, Hashable {
    /// Base64 of the JSON that was signed.
    public var statement: String
    /// Base64 of the DER-encoded ECDSA signature over those bytes.
    public var signature: String
    /// The signer's certificate, PEM, issued by the node CA and naming the node.
    public var certificate: String

    public init(statement: String, signature: String, certificate: String) {
        self.statement = statement
        self.signature = signature
        self.certificate = certificate
    }

    /// `value`'s JSON (sorted keys, ISO 8601 dates), signed with `key`; `certificate` is the key's, PEM.
    public static func sign(_ value: some Encodable, with key: P256.Signing.PrivateKey, certificate: String) throws -> NodeSigned {
        let bytes = try Self.encoder.encode(value)
        return NodeSigned(
            statement: bytes.base64EncodedString(), signature: try key.signature(for: bytes).derRepresentation.base64EncodedString(),
            certificate: certificate)
    }

    /// The signed bytes; a ``CoreError`` when the statement is not base64.
    public func statementBytes() throws(CoreError) -> Data {
        guard let bytes = Data(base64Encoded: statement) else {
            throw CoreError(.nodeSignatureInvalid, "the signed statement is not base64")
        }
        return bytes
    }

    /// Whether `signature` is `publicKey`'s over the statement; a ``CoreError`` saying what does not hold.
    public func checkSignature(with publicKey: P256.Signing.PublicKey) throws(CoreError) {
        let bytes = try statementBytes()
        guard let der = Data(base64Encoded: signature), let parsed = try? P256.Signing.ECDSASignature(derRepresentation: der) else {
            throw CoreError(.nodeSignatureInvalid, "the signature is not a base64 DER ECDSA signature")
        }
        guard publicKey.isValidSignature(parsed, for: bytes) else {
            throw CoreError(.nodeSignatureInvalid, "the signature does not verify with the key of the certificate sent")
        }
    }

    /// The statement decoded, without checking anything else.
    public func decode<T: Decodable>(_ type: T.Type) throws(CoreError) -> T {
        let bytes = try statementBytes()
        do {
            return try Self.decoder.decode(type, from: bytes)
        } catch {
            throw CoreError(.nodeSignatureInvalid, "the signed statement is not a \(type): \(error)")
        }
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

import Crypto
import Foundation

/// A directive as it travels: its JSON, base64, signed with Ed25519 by the coordinator's bundle key, like a
/// ``SignedBundle``. The node checks the key and the signature before it decodes anything.
public struct SignedDirective: Sendable, Hashable, Codable {
    public var keyID: String
    public var payload: String
    public var signature: String

    enum CodingKeys: String, CodingKey { case keyID = "key_id", payload, signature }

    public static func sign(_ directive: DataSubjectDirective, with key: Curve25519.Signing.PrivateKey) throws -> SignedDirective {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        let bytes = try encoder.encode(directive)
        return SignedDirective(
            keyID: SignedBundle.keyID(of: key.publicKey), payload: bytes.base64EncodedString(),
            signature: try key.signature(for: bytes).base64EncodedString())
    }

    /// The directive, once the key, the signature and the expiry hold at `date`; else a ``CoreError`` saying
    /// which did not.
    public func verify(with key: Curve25519.Signing.PublicKey, at date: Date) throws(CoreError) -> DataSubjectDirective {
        let bytes = try SignedBundle.verifiedBytes(keyID: keyID, payload: payload, signature: signature, with: key, what: "directive")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let directive: DataSubjectDirective
        do {
            directive = try decoder.decode(DataSubjectDirective.self, from: bytes)
        } catch {
            throw CoreError(.directiveMalformed, "the directive does not decode: \(error)")
        }
        guard directive.expiresAt > date else {
            throw CoreError(.directiveExpired, "the directive expired at \(ISOTime.string(directive.expiresAt)); the coordinator sends a fresh one")
        }
        return directive
    }
}

import Crypto
import Foundation

/// A node bundle as the coordinator ships it: the bundle's canonical JSON, its Ed25519 signature by the
/// coordinator's key, and which key signed it.
///
/// The signed bytes travel as they were signed (base64 in `payload`), so a node verifies exactly what the
/// coordinator signed and decodes only after the signature holds, as JWS does. `NodeBundle.canonicalJSON`
/// makes the bytes deterministic: the same state always gives the same bundle and the same signature input.
public struct SignedBundle: Sendable, Hashable, Codable {
    /// The first 16 hex digits of the SHA-256 of the raw public key.
    public var keyID: String
    /// Base64 of the bundle's canonical JSON.
    public var payload: String
    /// Base64 of the 64-byte Ed25519 signature over the payload's bytes.
    public var signature: String

    enum CodingKeys: String, CodingKey {
        case keyID = "key_id", payload, signature
    }

    public static func sign(_ bundle: NodeBundle, with key: Curve25519.Signing.PrivateKey) throws -> SignedBundle {
        let bytes = Data(bundle.canonicalJSON())
        return SignedBundle(
            keyID: keyID(of: key.publicKey), payload: bytes.base64EncodedString(),
            signature: try key.signature(for: bytes).base64EncodedString())
    }

    /// Signs a bundle and returns the `SignedBundle` JSON as sent to nodes, written in one pass over the
    /// payload (what `JSONEncoder().encode(sign(...))` gives, without its copies of a bundle of many megabytes).
    public static func signedJSON(_ bundle: NodeBundle, with key: Curve25519.Signing.PrivateKey) throws -> [UInt8] {
        try signedJSON(canonical: bundle.canonicalJSON(), with: key)
    }

    /// The same, from a bundle's canonical JSON already written.
    public static func signedJSON(canonical bytes: [UInt8], with key: Curve25519.Signing.PrivateKey) throws -> [UInt8] {
        let signature = try key.signature(for: bytes)
        var json = JSONWriter(capacity: bytes.count / 3 * 4 + 256)
        json.beginObject()
        json.field("key_id", keyID(of: key.publicKey))
        json.key("payload")
        json.base64String(bytes)
        json.key("signature")
        json.base64String(Array(signature))
        json.endObject()
        return json.bytes
    }

    public static func keyID(of key: Curve25519.Signing.PublicKey) -> String {
        String(SHA256.hash(data: key.rawRepresentation).hexString.prefix(16))
    }

    /// Checks the signature against the pinned coordinator key, then decodes and validates the bundle for
    /// `region`. Every failure is a ``CoreError`` saying which check failed, for the NACK.
    public func verify(with key: Curve25519.Signing.PublicKey, region: RegionID) throws(CoreError) -> NodeBundle {
        let bytes = try Self.verifiedBytes(keyID: keyID, payload: payload, signature: signature, with: key, what: "bundle")
        return try NodeBundle.decode(bytes, expectedRegion: region)
    }

    /// The same for a delta (``NodeBundleDelta``): the signature first, then the decoding; whether it applies is the
    /// directory's to say (``RecipientDirectory/applying(_:)``).
    public func verifyDelta(with key: Curve25519.Signing.PublicKey, region: RegionID) throws(CoreError) -> NodeBundleDelta {
        let bytes = try Self.verifiedBytes(keyID: keyID, payload: payload, signature: signature, with: key, what: "delta")
        return try NodeBundleDelta.decode(bytes, expectedRegion: region)
    }

    /// The signed bytes, once the key id is the pinned key's and the Ed25519 signature over them holds.
    static func verifiedBytes(
        keyID: String, payload: String, signature: String, with key: Curve25519.Signing.PublicKey, what: String
    ) throws(CoreError) -> Data {
        guard keyID == Self.keyID(of: key) else {
            throw CoreError(.untrustedKey, "signed by key \(keyID), but this node trusts key \(Self.keyID(of: key))")
        }
        guard let bytes = Data(base64Encoded: payload), let signature = Data(base64Encoded: signature) else {
            throw CoreError(.signatureInvalid, "the payload or the signature is not base64")
        }
        guard key.isValidSignature(signature, for: bytes) else {
            throw CoreError(.signatureInvalid, "the signature does not verify: the \(what) was changed after signing")
        }
        return bytes
    }
}

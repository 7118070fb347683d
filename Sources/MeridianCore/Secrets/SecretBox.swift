import Crypto
import Foundation

/// Encrypts secrets at rest (webhook secrets, signing keys) with AES-256-GCM under the coordinator's master key.
///
/// The stored form is `v1:` and base64 of nonce, ciphertext and tag. Opening with the wrong key or a changed
/// ciphertext fails rather than returning garbage.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) { self.key = key }

    /// A key from 32 raw bytes.
    public init?(keyBytes: some ContiguousBytes) {
        let key = SymmetricKey(data: keyBytes)
        guard key.bitCount == 256 else { return nil }
        self.key = key
    }

    /// 32 bytes for `purpose`, derived from the master key with HKDF-SHA256: the same on every replica that holds
    /// the master key, and telling nothing about it (the region keys of ``BundleSealing`` come from here).
    public func derivedKeyBytes(for purpose: String) -> Data {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, salt: Data("meridian".utf8), info: Data(purpose.utf8), outputByteCount: 32)
            .withUnsafeBytes { Data($0) }
    }

    public static func generateKeyBytes() -> Data {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    }

    public func seal(_ plaintext: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: key)
        guard let combined = box.combined else { throw SecretBoxError.malformed }
        return "v1:" + combined.base64EncodedString()
    }

    /// Bytes sealed the same way, as nonce, ciphertext and tag (for backups).
    public func seal(bytes: Data) throws -> Data {
        guard let combined = try AES.GCM.seal(bytes, using: key).combined else { throw SecretBoxError.malformed }
        return combined
    }

    public func open(bytes: Data) throws -> Data {
        try AES.GCM.open(AES.GCM.SealedBox(combined: bytes), using: key)
    }

    public func open(_ sealed: String) throws -> String {
        guard sealed.hasPrefix("v1:"), let data = Data(base64Encoded: String(sealed.dropFirst(3))) else {
            throw SecretBoxError.malformed
        }
        let plaintext = try AES.GCM.open(AES.GCM.SealedBox(combined: data), using: key)
        guard let text = String(data: plaintext, encoding: .utf8) else { throw SecretBoxError.malformed }
        return text
    }
}

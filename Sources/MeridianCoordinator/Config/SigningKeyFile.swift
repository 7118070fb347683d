import Crypto
import Foundation
import MeridianCore

/// An Ed25519 key of the coordinator, kept sealed under the master key in `DATA_DIR/<name>.key`, with its
/// public half in `<name>.pub` (base64, raw). `bundle-signing` signs config bundles (nodes pin its public half);
/// `publication-signing` signs the warrant canary and frozen transparency reports (published as PEM).
public enum SigningKeyFile {
    public static func loadOrCreate(dataDirectory: String, secrets: SecretBox, name: String = "bundle-signing") throws -> Curve25519.Signing.PrivateKey {
        let path = (dataDirectory as NSString).appendingPathComponent("\(name).key")
        if let sealed = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let raw = try? secrets.open(sealed.trimmingCharacters(in: .whitespacesAndNewlines)),
                let bytes = Data(base64Encoded: raw), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
            else {
                throw CoordinatorError(.signingKeyInvalid, "\(path) does not open with the master key; restore the master key that sealed it")
            }
            return key
        }
        let key = Curve25519.Signing.PrivateKey()
        try PrivateFile.write(Data((try secrets.seal(key.rawRepresentation.base64EncodedString()) + "\n").utf8), to: path)
        try Data((key.publicKey.rawRepresentation.base64EncodedString() + "\n").utf8)
            .write(to: URL(fileURLWithPath: (dataDirectory as NSString).appendingPathComponent("\(name).pub")))
        return key
    }
}

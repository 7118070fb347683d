import Foundation
import MeridianCore

/// The key that seals secrets at rest. It comes from `MERIDIAN_MASTER_KEY` (base64 of 32 bytes) when set,
/// which is how replicas sharing one PostgreSQL share it, or else from `<data dir>/master.key`, created with
/// mode 0600 on first start.
public enum MasterKey {
    public static func load(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretBox {
        if let encoded = environment["MERIDIAN_MASTER_KEY"] {
            guard let bytes = Data(base64Encoded: encoded), let box = SecretBox(keyBytes: bytes) else {
                throw CoordinatorError(.masterKeyInvalid, "MERIDIAN_MASTER_KEY must be the base64 of exactly 32 bytes (try: openssl rand -base64 32)")
            }
            return box
        }
        let path = (dataDirectory as NSString).appendingPathComponent("master.key")
        if let bytes = FileManager.default.contents(atPath: path) {
            guard let box = SecretBox(keyBytes: bytes) else {
                throw CoordinatorError(.masterKeyInvalid, "\(path) must hold exactly 32 bytes; it holds \(bytes.count)")
            }
            return box
        }
        let bytes = SecretBox.generateKeyBytes()
        try PrivateFile.write(bytes, to: path)
        guard let box = SecretBox(keyBytes: bytes) else { throw CoordinatorError(.masterKeyInvalid, "could not create \(path)") }
        return box
    }
}

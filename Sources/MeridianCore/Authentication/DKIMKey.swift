import Crypto
import _CryptoExtras

/// A DKIM public key record (RFC 6376 §3.6.1), published as TXT at `selector._domainkey.domain`.
public struct DKIMKey: Sendable {
    public enum Material: Sendable {
        case rsa(_RSA.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    public var material: Material
    /// `t=s`: the i= domain must be d= itself, not a subdomain.
    public var strictIdentity: Bool
    /// `t=y`: the domain is testing DKIM; results are reported as usual.
    public var testing: Bool
    public var bits: Int

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Not a key record, or a key that does not parse.
        case invalid(String)
        /// `p=` is empty: the key was withdrawn.
        case revoked
        /// A key that parses but that policy does not accept (RSA shorter than 1024 bits, RFC 8301).
        case unacceptable(String)

        public var description: String {
            switch self {
            case .invalid(let why): why
            case .revoked: "the key has been revoked (p= is empty)"
            case .unacceptable(let why): why
            }
        }
    }

    public init(parsing text: String, for algorithm: DKIMSignature.Algorithm) throws(Failure) {
        let tags: TagList
        do { tags = try TagList(parsing: text) } catch { throw .invalid("the key record: \(error)") }
        if let version = tags["v"] {
            guard version == "DKIM1", tags.tags.first?.name == "v" else { throw .invalid("the key record's v=\(version.prefix(20)) is not DKIM1") }
        }
        guard let encoded = tags["p"] else { throw .invalid("the key record has no p= tag") }
        let base64 = encoded.removingWhitespace()
        guard !base64.isEmpty else { throw .revoked }
        let (bytes, clean) = TransferEncoding.decodeBase64(ArraySlice(base64.utf8))
        guard clean, !bytes.isEmpty else { throw .invalid("the key's p= is not base64") }
        if let hashes = tags["h"], !hashes.lowercased().split(separator: ":").map({ $0.trimmingWhitespace() }).contains("sha256") {
            throw .unacceptable("the key allows only h=\(hashes.prefix(40))")
        }
        if let services = tags["s"], !services.split(separator: ":").map({ $0.trimmingWhitespace() }).contains(where: { $0 == "*" || $0 == "email" }) {
            throw .unacceptable("the key is not for e-mail (s=\(services.prefix(40)))")
        }
        let flags = (tags["t"] ?? "").split(separator: ":").map { $0.trimmingWhitespace() }
        strictIdentity = flags.contains("s")
        testing = flags.contains("y")
        let kind = (tags["k"] ?? "rsa").lowercased()
        switch (kind, algorithm) {
        case ("rsa", .rsaSHA256), ("rsa", .rsaSHA1):
            guard let key = try? _RSA.Signing.PublicKey(unsafeDERRepresentation: bytes) else {
                throw .invalid("the key's p= is not an RSA public key, or is shorter than 1024 bits")
            }
            material = .rsa(key)
            bits = key.keySizeInBits
        case ("ed25519", .ed25519SHA256):
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else { throw .invalid("the key's p= is not an Ed25519 public key") }
            material = .ed25519(key)
            bits = 256
        default:
            throw .invalid("the key is k=\(kind.prefix(20)) but the signature is a=\(algorithm.rawValue)")
        }
    }
}

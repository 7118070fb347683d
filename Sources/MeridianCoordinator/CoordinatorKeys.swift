import Crypto
import Foundation
import MeridianCore

/// The coordinator's keys: the master key that seals secrets at rest, the key that signs config bundles and
/// directives (nodes pin its public half), and the one that signs the canary and frozen reports.
public struct CoordinatorKeys: Sendable {
    public var secrets: SecretBox
    public var bundleSigning: Curve25519.Signing.PrivateKey
    public var publicationSigning: Curve25519.Signing.PrivateKey

    public init(secrets: SecretBox, bundleSigning: Curve25519.Signing.PrivateKey, publicationSigning: Curve25519.Signing.PrivateKey) {
        self.secrets = secrets
        self.bundleSigning = bundleSigning
        self.publicationSigning = publicationSigning
    }

    /// The master key, then the signing keys sealed under it, from `dataDirectory` (each created on first use).
    public static func load(dataDirectory: String) throws -> CoordinatorKeys {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let secrets = try MasterKey.load(dataDirectory: dataDirectory)
        return CoordinatorKeys(
            secrets: secrets,
            // Created on first start, so that its public half (bundle-signing.pub) can be given to the nodes.
            bundleSigning: try SigningKeyFile.loadOrCreate(dataDirectory: dataDirectory, secrets: secrets),
            // Signs the canary and frozen transparency reports; published as /.well-known/canary.pub.
            publicationSigning: try SigningKeyFile.loadOrCreate(dataDirectory: dataDirectory, secrets: secrets, name: "publication-signing"))
    }
}

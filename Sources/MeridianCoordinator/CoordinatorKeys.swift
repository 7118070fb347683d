import Crypto
import Foundation
import MeridianCore

/// The coordinator's keys: the master key that seals secrets at rest, the key that signs config bundles and
/// directives (nodes pin its public half), and the one that signs the canary and frozen reports.
public struct CoordinatorKeys: Sendable {
    public var secrets: SecretBox
    public var bundleSigning: Curve25519.Signing.PrivateKey
    public var publicationSigning: Curve25519.Signing.PrivateKey
    /// The node CA and the coordinator CA of the node protocol's mutual TLS.
    public var authority: NodeAuthority

    public init(
        secrets: SecretBox, bundleSigning: Curve25519.Signing.PrivateKey, publicationSigning: Curve25519.Signing.PrivateKey, authority: NodeAuthority
    ) {
        self.secrets = secrets
        self.bundleSigning = bundleSigning
        self.publicationSigning = publicationSigning
        self.authority = authority
    }

    /// The master key, then the signing keys and the certificate authorities sealed under it, from
    /// `dataDirectory` (each created on first use); `zone` is the service's DNS zone, which node identities name.
    public static func load(dataDirectory: String, zone: String) throws -> CoordinatorKeys {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let secrets = try MasterKey.load(dataDirectory: dataDirectory)
        return CoordinatorKeys(
            secrets: secrets,
            // Created on first start, so that its public half (bundle-signing.pub) can be given to the nodes.
            bundleSigning: try SigningKeyFile.loadOrCreate(dataDirectory: dataDirectory, secrets: secrets),
            // Signs the canary and frozen transparency reports; published as /.well-known/canary.pub.
            publicationSigning: try SigningKeyFile.loadOrCreate(dataDirectory: dataDirectory, secrets: secrets, name: "publication-signing"),
            authority: try NodeAuthority.loadOrCreate(dataDirectory: dataDirectory, secrets: secrets, zone: zone))
    }
}

import Crypto
import Foundation
import MeridianCore

/// Each region's key for sealed webhook secrets (``BundleSealing``): an X25519 key pair derived from the master
/// key, so every coordinator replica has the same ones and a backup of the master key covers them. The compiler
/// seals each region's bundle to its public half; the node link hands the private half to the region's nodes
/// when they join and renew.
public struct RegionKeys: Sendable {
    let secrets: SecretBox

    public init(secrets: SecretBox) {
        self.secrets = secrets
    }

    public func privateKey(for region: RegionID) -> Curve25519.KeyAgreement.PrivateKey {
        // Any 32 bytes are an X25519 private key (they are clamped when used).
        try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: secrets.derivedKeyBytes(for: "region key v1 \(region.rawValue)"))
    }

    /// A sealer for one bundle of `region`: a fresh content key, sealed to the region.
    public func sealer(for region: RegionID) throws -> BundleSealing.Sealer {
        try BundleSealing.Sealer(regionKey: privateKey(for: region).publicKey, region: region)
    }
}

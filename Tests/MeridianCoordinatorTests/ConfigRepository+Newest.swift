import Crypto
import Foundation
import MeridianCore

@testable import MeridianCoordinator

extension ConfigRepository {
    /// The newest bundle of `region` as a new node would put it together: the update from version 0 (a snapshot and
    /// the deltas after it), each part verified with `key`, and its secrets opened with `regionKey` when given
    /// (else they stay sealed, each part's under its own content key).
    func newest(
        for region: RegionID, key: Curve25519.Signing.PublicKey, regionKey: Curve25519.KeyAgreement.PrivateKey? = nil
    ) async throws -> NodeBundle? {
        guard let json = try await update(for: region, from: 0)?.json else { return nil }
        return try Self.assemble(try JSONDecoder().decode(ConfigUpdate.self, from: json), region: region, key: key, regionKey: regionKey)
    }

    /// The bundle a node makes of `update` when it holds nothing yet.
    static func assemble(
        _ update: ConfigUpdate, region: RegionID, key: Curve25519.Signing.PublicKey, regionKey: Curve25519.KeyAgreement.PrivateKey? = nil
    ) throws -> NodeBundle? {
        guard let snapshot = update.snapshot else { return nil }
        var bundle = try snapshot.verify(with: key, region: region)
        if let regionKey { bundle = try bundle.openingSecrets(with: regionKey) }
        var directory = RecipientDirectory(bundle)
        for signed in update.deltas {
            var delta = try signed.verifyDelta(with: key, region: region)
            if let regionKey { delta = try delta.openingSecrets(with: regionKey) }
            directory = try directory.applying(delta)
        }
        return directory.bundle()
    }
}

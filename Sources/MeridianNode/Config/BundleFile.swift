import Crypto
import Foundation
import Logging
import MeridianCore

/// The node's bundle on disk: the bundle file it is given (`--bundle`), and the last-known-good copy of the
/// bundle last applied, which a start falls back to when the file is unusable.
///
/// A bundle must be signed (`key_id`, `payload`, `signature`) with the coordinator's bundle-signing key the node
/// was given when it joined; there is no unsigned mode. A missing file means an empty bundle (version 0): the
/// node refuses every recipient with `550 5.1.1` until customers are configured.
struct BundleFile: Sendable {
    let path: String
    let lastKnownGoodPath: String
    let region: RegionID
    let trustedKey: Curve25519.Signing.PublicKey
    /// Where the region key is kept (`identity/`): read at each bundle, so a key a renewal brings is used at once.
    let identityDirectory: String

    init(_ configuration: NodeConfiguration, key: Curve25519.Signing.PublicKey) {
        path = configuration.bundlePath
        lastKnownGoodPath = configuration.lastKnownGoodPath
        region = configuration.region.id
        trustedKey = key
        identityDirectory = configuration.identityDirectory
    }

    /// The bundle to start with: the file's, else the last-known-good, else an empty one when there is no file.
    func load(logger: Logger) throws -> NodeBundle {
        guard let data = FileManager.default.contents(atPath: path) else {
            if let good = lastKnownGood() {
                logger.warning("node: no bundle at \(path); starting from the last-known-good, version \(good.version)")
                return good
            }
            logger.notice("node: no bundle at \(path) yet; no customers are configured", metadata: ["region": "\(region)"])
            return NodeBundle(version: 0, region: region, customers: [])
        }
        do {
            let bundle = try decode(data)
            keep(data, logger: logger)
            return bundle
        } catch {
            if let good = lastKnownGood() {
                logger.error(
                    "node: the bundle \(path) cannot be used; starting from the last-known-good, version \(good.version)",
                    metadata: ["error": "\(error)"])
                return good
            }
            throw NodeError(.bundleUnusable, "the bundle \(path) cannot be used: \(error)")
        }
    }

    /// A bundle's bytes checked as this node takes them: signed by the coordinator's key, for this region, its
    /// webhook secrets opened with the region key (the bytes, kept as the last-known-good, keep them sealed).
    func decode(_ data: Data) throws -> NodeBundle {
        guard let envelope = try? JSONDecoder().decode(SignedBundle.self, from: data) else {
            throw NodeError(
                .bundleNotSigned, "expected a signed bundle (key_id, payload, signature): this node trusts only bundles the coordinator signed")
        }
        return try envelope.verify(with: trustedKey, region: region).openingSecrets(with: try NodeEnrollment.loadRegionKey(directory: identityDirectory))
    }

    /// Saves the bytes of an applied bundle as the last-known-good, owner-only (it holds webhook secrets).
    func keep(_ data: Data, logger: Logger) {
        do {
            try PrivateFile.replace(data, at: lastKnownGoodPath)
        } catch {
            logger.error("node: cannot keep the last-known-good bundle", metadata: ["path": "\(lastKnownGoodPath)", "error": "\(error)"])
        }
    }

    func lastKnownGood() -> NodeBundle? {
        guard let data = FileManager.default.contents(atPath: lastKnownGoodPath) else { return nil }
        return try? decode(data)
    }

    var modificationDate: Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

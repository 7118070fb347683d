import Crypto
import Foundation
import Logging
import MeridianCore

/// The node's bundle on disk: the bundle file it is given (`--bundle`), and the last-known-good config, which a
/// start falls back to when the file is unusable.
///
/// The last-known-good is the last snapshot applied, as it came (a ``SignedBundle``, or a ``ConfigUpdate`` holding
/// a snapshot and the deltas after it), and beside it (`<path>.deltas`) every signed delta applied since, one JSON
/// line each. A new snapshot replaces both. A start replays the deltas over the snapshot, each checked again.
///
/// Everything must be signed (`key_id`, `payload`, `signature`) with the coordinator's bundle-signing key the node
/// was given when it joined; there is no unsigned mode. A missing file means an empty bundle (version 0): the node
/// refuses every recipient with `550 5.1.1` until customers are configured.
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

    /// The deltas applied since the last-known-good snapshot.
    var deltasPath: String { lastKnownGoodPath + ".deltas" }

    /// The config to start with: the file's, else the last-known-good, else an empty one when there is no file.
    func load(logger: Logger) throws -> RecipientDirectory {
        guard let data = FileManager.default.contents(atPath: path) else {
            if let good = lastKnownGood(logger: logger) {
                logger.warning("node: no bundle at \(path); starting from the last-known-good, version \(good.version)")
                return good
            }
            logger.notice("node: no bundle at \(path) yet; no customers are configured", metadata: ["region": "\(region)"])
            return RecipientDirectory(NodeBundle(version: 0, region: region, customers: []))
        }
        do {
            let directory = RecipientDirectory(try decode(data))
            // A last-known-good at least as new (the coordinator's deltas since the file) is the better start.
            if let good = lastKnownGood(logger: logger), good.version >= directory.version { return good }
            keep(data, logger: logger)
            return directory
        } catch {
            if let good = lastKnownGood(logger: logger) {
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
        try snapshot(try envelope(data))
    }

    /// The signed envelope of a bare bundle's bytes, not yet checked.
    func envelope(_ data: Data) throws -> SignedBundle {
        guard let envelope = try? JSONDecoder().decode(SignedBundle.self, from: data) else {
            throw NodeError(
                .bundleNotSigned, "expected a signed bundle (key_id, payload, signature): this node trusts only bundles the coordinator signed")
        }
        return envelope
    }

    /// A signed snapshot, checked and its secrets opened.
    func snapshot(_ envelope: SignedBundle) throws -> NodeBundle {
        try envelope.verify(with: trustedKey, region: region).openingSecrets(with: try NodeEnrollment.loadRegionKey(directory: identityDirectory))
    }

    /// A signed delta, checked and its secrets opened (whether it applies is the directory's to say).
    func delta(_ envelope: SignedBundle) throws -> NodeBundleDelta {
        try envelope.verifyDelta(with: trustedKey, region: region).openingSecrets(with: try NodeEnrollment.loadRegionKey(directory: identityDirectory))
    }

    /// Whether `data` is a ``ConfigUpdate`` (and not a bare ``SignedBundle``): told from its first key, as the
    /// coordinator writes it, so that a snapshot of hundreds of megabytes is not parsed twice.
    static func isUpdate(_ data: Data) -> Bool {
        data.starts(with: Array(#"{"deltas":"#.utf8))
    }

    /// The directory a snapshot and the deltas after it give, each checked; deltas the snapshot is already past are
    /// skipped.
    func directory(snapshot envelope: SignedBundle, deltas: [SignedBundle]) throws -> RecipientDirectory {
        var directory = RecipientDirectory(try snapshot(envelope))
        for envelope in deltas {
            let delta = try delta(envelope)
            if delta.version > directory.version { directory = try directory.applying(delta) }
        }
        return directory
    }

    /// Saves the bytes of an applied snapshot (with the deltas its update carried) as the last-known-good,
    /// owner-only (it holds sealed webhook secrets), and forgets the deltas kept since the previous one.
    func keep(_ data: Data, logger: Logger) {
        do {
            try PrivateFile.replace(data, at: lastKnownGoodPath)
            try? FileManager.default.removeItem(atPath: deltasPath)
        } catch {
            logger.error("node: cannot keep the last-known-good bundle", metadata: ["path": "\(lastKnownGoodPath)", "error": "\(error)"])
        }
    }

    /// Adds an applied delta to the last-known-good.
    func keep(delta envelope: SignedBundle, logger: Logger) {
        do {
            try PrivateFile.append(try JSONEncoder().encode(envelope) + Data("\n".utf8), to: deltasPath)
        } catch {
            logger.error("node: cannot keep an applied delta", metadata: ["path": "\(deltasPath)", "error": "\(error)"])
        }
    }

    /// The last-known-good snapshot with the deltas kept since replayed over it, up to the first that does not
    /// apply (a line cut short by a crash, say).
    func lastKnownGood(logger: Logger) -> RecipientDirectory? {
        guard let data = FileManager.default.contents(atPath: lastKnownGoodPath) else { return nil }
        var directory: RecipientDirectory
        do {
            if Self.isUpdate(data) {
                let update = try JSONDecoder().decode(ConfigUpdate.self, from: data)
                guard let snapshot = update.snapshot else { return nil }
                directory = try self.directory(snapshot: snapshot, deltas: update.deltas)
            } else {
                directory = RecipientDirectory(try decode(data))
            }
        } catch {
            logger.error("node: the last-known-good bundle cannot be used", metadata: ["path": "\(lastKnownGoodPath)", "error": "\(error)"])
            return nil
        }
        guard let log = FileManager.default.contents(atPath: deltasPath) else { return directory }
        for line in log.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            do {
                let delta = try delta(try JSONDecoder().decode(SignedBundle.self, from: Data(line)))
                if delta.version > directory.version { directory = try directory.applying(delta) }
            } catch {
                logger.warning(
                    "node: a kept delta does not apply; the last-known-good is version \(directory.version)",
                    metadata: ["path": "\(deltasPath)", "error": "\(error)"])
                break
            }
        }
        return directory
    }

    var modificationDate: Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

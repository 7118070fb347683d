import Foundation
import Logging
import MeridianCore

/// Where all config offered to the node goes, from the bundle file, a coordinator push or a pull: a bare snapshot
/// (``SignedBundle``) or a ``ConfigUpdate`` (deltas, after a snapshot when the node needs one). Each part is verified
/// (with the trusted key) and validated; what is newer is applied and kept as the last-known-good. A part that
/// fails, or a snapshot older than the version in force, is refused and the version in force stays (deltas of the
/// same update applied before it stay applied). The same version again is acknowledged without change.
public struct BundleIntake: Sendable {
    let file: BundleFile
    let config: NodeConfigState
    let metrics: NodeMetrics
    let logger: Logger

    /// The node's ACK or NACK of `data`.
    public func offer(_ data: Data, from source: String) -> BundleReport {
        let region = file.region
        do {
            // A bare signed bundle is an update of a snapshot alone.
            let update = BundleFile.isUpdate(data) ? try decodeUpdate(data) : ConfigUpdate(snapshot: try file.envelope(data))
            return try offer(update: update, data: data, from: source)
        } catch {
            logger.error(
                "node: config from \(source) refused; version \(config.version) stays in force",
                metadata: ["region": "\(region)", "error": "\(error)"])
            metrics.bundleRefused()
            return BundleReport(status: .nack, offered: nil, version: config.version, error: "\(error)")
        }
    }

    private func decodeUpdate(_ data: Data) throws -> ConfigUpdate {
        do {
            return try JSONDecoder().decode(ConfigUpdate.self, from: data)
        } catch {
            throw CoreError(.bundleMalformed, "not a config update (deltas and an optional snapshot): \(error)")
        }
    }

    private func offer(update: ConfigUpdate, data: Data, from source: String) throws -> BundleReport {
        if let snapshot = update.snapshot {
            // A snapshot and the deltas after it: put together first, then in force at once.
            let directory = try file.directory(snapshot: snapshot, deltas: update.deltas)
            return report(config.applyIfNewer(directory), version: directory.version, from: source) { file.keep(data, logger: logger) }
        }
        guard !update.deltas.isEmpty else { throw CoreError(.bundleMalformed, "the update holds neither a snapshot nor a delta") }
        var last: NodeConfigState.Outcome = .alreadyInForce
        var version = config.version
        for envelope in update.deltas {
            let delta: NodeBundleDelta
            do {
                delta = try file.delta(envelope)
                last = try config.apply(delta)
            } catch {
                // Those applied before it stay in force; the coordinator sends what follows them.
                logger.error(
                    "node: a delta from \(source) refused; version \(config.version) stays in force",
                    metadata: ["region": "\(file.region)", "error": "\(error)"])
                metrics.bundleRefused()
                return BundleReport(status: .nack, offered: nil, version: config.version, error: "\(error)")
            }
            version = delta.version
            if last == .applied {
                file.keep(delta: envelope, logger: logger)
                metrics.bundleApplied(version: delta.version)
            }
        }
        if case .older(let inForce) = last { return refuseOlder(version, inForce: inForce, from: source) }
        if last == .applied { logger.info("node: applied config version \(version) from \(source)", metadata: ["region": "\(file.region)", "deltas": "\(update.deltas.count)"]) }
        return BundleReport(status: .ack, offered: version, version: config.version, error: nil)
    }

    /// The ACK or NACK of a snapshot (alone or with its deltas) at `version`; `keep` saves it when applied.
    private func report(_ outcome: NodeConfigState.Outcome, version: Int, from source: String, keep: () -> Void) -> BundleReport {
        switch outcome {
        case .applied:
            keep()
            metrics.bundleApplied(version: version)
            logger.info("node: applied config version \(version) from \(source)", metadata: ["region": "\(file.region)"])
            return BundleReport(status: .ack, offered: version, version: version, error: nil)
        case .alreadyInForce:
            return BundleReport(status: .ack, offered: version, version: version, error: nil)
        case .older(let inForce):
            return refuseOlder(version, inForce: inForce, from: source)
        }
    }

    private func refuseOlder(_ version: Int, inForce: Int, from source: String) -> BundleReport {
        let reason = "version \(version) is older than version \(inForce) in force"
        logger.warning("node: bundle from \(source) refused: \(reason)", metadata: ["region": "\(file.region)"])
        metrics.bundleRefused()
        return BundleReport(status: .nack, offered: version, version: inForce, error: reason)
    }
}

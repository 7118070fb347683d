import Foundation
import Logging
import MeridianCore

/// Where every bundle offered to the node goes, from the bundle file, a coordinator push or a pull: verified
/// (with a trusted key), validated and, when newer, applied and kept as the last-known-good. A bundle that
/// fails, or is older than the one in force, is refused and the version in force stays. The same version
/// again is acknowledged without change.
public struct BundleIntake: Sendable {
    let file: BundleFile
    let config: NodeConfigState
    let metrics: NodeMetrics
    let logger: Logger

    /// The node's ACK or NACK of `data`.
    public func offer(_ data: Data, from source: String) -> BundleReport {
        let region = file.region
        let bundle: NodeBundle
        do {
            bundle = try file.decode(data)
        } catch {
            logger.error(
                "node: bundle from \(source) refused; version \(config.version) stays in force",
                metadata: ["region": "\(region)", "error": "\(error)"])
            metrics.bundleRefused()
            return BundleReport(status: .nack, offered: nil, version: config.version, error: "\(error)")
        }
        switch config.applyIfNewer(bundle) {
        case .applied:
            file.keep(data, logger: logger)
            metrics.bundleApplied(version: bundle.version)
            logger.info("node: applied bundle version \(bundle.version) from \(source)", metadata: ["region": "\(region)"])
            return BundleReport(status: .ack, offered: bundle.version, version: bundle.version, error: nil)
        case .alreadyInForce:
            return BundleReport(status: .ack, offered: bundle.version, version: bundle.version, error: nil)
        case .older(let inForce):
            let reason = "version \(bundle.version) is older than version \(inForce) in force"
            logger.warning("node: bundle from \(source) refused: \(reason)", metadata: ["region": "\(region)"])
            metrics.bundleRefused()
            return BundleReport(status: .nack, offered: bundle.version, version: inForce, error: reason)
        }
    }
}

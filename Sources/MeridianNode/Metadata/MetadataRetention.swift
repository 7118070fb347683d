import Foundation
import Logging
import MeridianCore

/// One retention pass over the metadata store and the quarantine, under the policy of the config version in
/// force (as the coordinator compiled it from Regions/). The node runs it at start and then hourly, in a
/// `PeriodicJob`.
struct MetadataRetention: Sendable {
    let region: Region
    let config: NodeConfigState
    let store: MetadataStore
    let quarantine: Quarantine
    let protocolLog: SMTPProtocolLog
    let logger: Logger
    let now: @Sendable () -> Date

    @discardableResult
    func runOnce() async throws -> MetadataStore.RetentionResult {
        let policy = region.applying(config.directory.header.policy)
        let expired = try await quarantine.expire(olderThan: policy.retention.quarantine.seconds)
        if expired > 0 {
            logger.info("retention: deleted \(expired) held deliveries from the quarantine", metadata: ["region": "\(region.id)"])
        }
        let days = protocolLog.expire(before: now().addingTimeInterval(-Double(policy.retention.smtpProtocolLogs.seconds)))
        if days > 0 {
            logger.info("retention: deleted \(days) days of SMTP protocol log", metadata: ["region": "\(region.id)"])
        }
        let result = try await store.applyRetention(policy.retention, masking: policy.ipMasking, now: now())
        if result != .init() {
            logger.info(
                "retention: deleted \(result.deletedRecords) metadata records, \(result.deletedAttempts) attempts and \(result.deletedSetAside) set-aside writes, masked \(result.maskedAddresses) addresses",
                metadata: ["region": "\(region.id)"])
        }
        return result
    }
}

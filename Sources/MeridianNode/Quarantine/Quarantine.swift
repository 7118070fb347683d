import Foundation
import Logging
import MeridianCore

/// A node's quarantine: messages a customer's filtering policy holds instead of delivering, kept sealed on the
/// node (``QuarantineVault``) with a `quarantined` metadata record per recipient, for the region's quarantine
/// period (14 days unless the region says otherwise). The customer, or support under an access grant, lists
/// them, previews one, releases it (delivered now through the spool and the queue, under the config in force)
/// or deletes it; the retention job deletes what is left at the end of the period.
public struct Quarantine: Sendable {
    let region: RegionID
    let vault: QuarantineVault
    let store: MetadataStore
    let spool: Spool
    let queue: DeliveryQueue
    /// Tells customers' events URLs what was held.
    let events: EventPoster
    let metrics: NodeMetrics
    let logger: Logger
    let now: @Sendable () -> Date

    /// Keeps the message and records its recipients as `quarantined`; returns once it is on disk.
    func hold(_ spooled: SpooledMessage, data: [UInt8], message: MIMEMessage, customers: [NodeBundle.Customer], reason: String) async throws {
        try vault.hold(spooled, data: data)
        for (index, customer) in customers.enumerated() {
            var entry = MessageProcessor.record(spooled, index, message, customer, size: data.count, status: .quarantined)
            entry.finalReason = "held in quarantine: \(reason)"
            await store.insert(entry)
            events.post(DeliveryEvent(.messageQuarantined, delivery: entry, region: region, reason: reason, at: now()), for: customer)
        }
        await store.flush()
        metrics.filtered(decision: "quarantined")
        await refreshGauge()
    }

    /// A held message of `customer`, as it may be looked at; nil when this node holds none.
    func preview(_ messageID: String, customer: String) async throws -> QuarantinePreview? {
        let records = try await store.quarantined(customer: customer, messageID: messageID)
        guard !records.isEmpty, let (spooled, data) = try vault.open(messageID) else { return nil }
        return QuarantinePreview(
            messageID: messageID, region: region.rawValue, receivedAt: spooled.receivedAt, from: spooled.from,
            recipients: records.sorted { $0.recipient < $1.recipient }.map { spooled.recipients[$0.recipient].address },
            reason: records.first?.finalReason ?? "", scan: spooled.scan, authentication: spooled.authentication, message: MIMEMessage(parsing: data))
    }

    /// Releases or deletes each message of the action that this node holds for the customer.
    func act(_ action: QuarantineAction) async throws -> [QuarantineOutcome] {
        var outcomes: [QuarantineOutcome] = []
        for messageID in action.messageIDs {
            let held = try await store.quarantined(customer: action.customerID, messageID: messageID)
            guard !held.isEmpty, let (spooled, data) = try vault.open(messageID) else {
                outcomes.append(QuarantineOutcome(messageID: messageID, result: .notFound))
                continue
            }
            switch action.action {
            case .release:
                outcomes.append(try await release(spooled, data: data, recipients: held.map(\.recipient), by: action.actor))
            case .delete:
                for record in held {
                    await store.updateStatus(
                        DeliveryKey(messageID: messageID, recipient: record.recipient), .discarded, attempts: 0, completedAt: now(),
                        reason: "deleted from quarantine by \(action.actor)")
                }
                try await removeIfDone(messageID)
                outcomes.append(QuarantineOutcome(messageID: messageID, result: .deleted))
            }
            logger.info("quarantine: \(action.action.rawValue)", metadata: ["message": "\(messageID)", "by": "\(action.actor)"])
        }
        await store.flush()
        await refreshGauge()
        return outcomes
    }

    /// Spools the message again and queues the released recipients; every other recipient is marked done in the
    /// spool at once, so that neither a restart nor the queue delivers what is still held.
    private func release(_ spooled: SpooledMessage, data: [UInt8], recipients: [Int], by actor: String) async throws -> QuarantineOutcome {
        guard !spool.pendingMessages().keys.contains(spooled.id) else {
            return QuarantineOutcome(messageID: spooled.id, result: .busy, detail: "an earlier release of this message is still being delivered")
        }
        try await spool.append(spooled, data: data)
        let released = Set(recipients)
        for index in spooled.recipients.indices where !released.contains(index) {
            spool.complete(DeliveryKey(messageID: spooled.id, recipient: index))
        }
        let keys = recipients.sorted().map { (key: DeliveryKey(messageID: spooled.id, recipient: $0), customer: spooled.recipients[$0].customer) }
        for (key, _) in keys {
            await store.updateStatus(key, .queued, attempts: 0, reason: "released from quarantine by \(actor)")
        }
        await store.flush()
        await queue.resume(keys, attemptsSoFar: [:])
        try await removeIfDone(spooled.id)
        return QuarantineOutcome(messageID: spooled.id, result: .released)
    }

    /// Deletes the sealed copy once no recipient of the message is held any more.
    private func removeIfDone(_ messageID: String) async throws {
        await store.flush()
        if try await store.quarantined(messageID: messageID).isEmpty { vault.remove(messageID) }
    }

    /// The retention job's part: messages held longer than the region's quarantine period are deleted.
    func expire(olderThan seconds: Int64) async throws -> Int {
        let cutoff = now().addingTimeInterval(-Double(seconds))
        let expired = try await store.quarantined(before: cutoff, limit: 100_000)
        for record in expired {
            await store.updateStatus(
                DeliveryKey(messageID: record.messageID, recipient: record.recipient), .discarded, attempts: 0, completedAt: now(),
                reason: "deleted from quarantine after the region's quarantine period")
        }
        for messageID in Set(expired.map(\.messageID)) { try await removeIfDone(messageID) }
        await refreshGauge()
        return expired.count
    }

    // MARK: - Data subjects

    /// The held messages that concern a data subject: for an address, those it sent or is a recipient of (every
    /// recipient); for a customer, its recipients.
    func messages(of subject: SubjectIdentity) -> [DirectiveExecutor.SpooledMatch] {
        var matches: [DirectiveExecutor.SpooledMatch] = []
        for id in vault.ids() {
            guard let (message, data) = try? vault.open(id) else { continue }
            let all = Set(message.recipients.indices)
            let relevant = message.recipients(concerning: subject, among: all)
            if !relevant.isEmpty { matches.append(.init(message: message, data: data, recipients: relevant, pending: all)) }
        }
        return matches
    }

    /// Deletes a held message for an erasure (its records go with the subject's metadata).
    func erase(_ messageID: String) async {
        vault.remove(messageID)
        await refreshGauge()
    }

    func refreshGauge() async {
        metrics.quarantined(vault.ids().count)
    }
}

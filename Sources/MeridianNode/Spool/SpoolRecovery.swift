import Foundation
import Logging
import MeridianCore

/// A step of a node's start, between opening the spool and running the queue: every delivery the spool holds
/// unfinished (a crash, a stop, a retry not yet due) goes back on the queue with its attempt count, and its
/// metadata record is written again where the crash lost it.
struct SpoolRecovery: Sendable {
    let region: RegionID
    let spool: Spool
    let store: MetadataStore
    let config: NodeConfigState
    let queue: DeliveryQueue
    let logger: Logger

    func resume(_ recovered: [Spool.Recovered]) async throws {
        guard !recovered.isEmpty else { return }
        var keys: [(key: DeliveryKey, customer: String)] = []
        var attempts: [DeliveryKey: Int] = [:]
        for item in recovered {
            let (message, data) = try spool.read(item.message.id)
            let parsed = MIMEMessage(parsing: data)
            for index in item.pendingRecipients {
                let key = DeliveryKey(messageID: message.id, recipient: index)
                keys.append((key, message.recipients[index].customer))
                if let (record, _) = try await store.delivery(key) {
                    attempts[key] = record.attempts
                } else if let customer = config.directory.customer(message.recipients[index].customer) {
                    await store.insert(MessageProcessor.record(message, index, parsed, customer, size: data.count, status: .queued))
                }
            }
        }
        logger.info("spool: resuming \(keys.count) deliveries found on disk", metadata: ["region": "\(region)"])
        await queue.resume(keys, attemptsSoFar: attempts)
    }
}

import Foundation
import Logging
import MeridianCore

/// Settles each message the SMTP listener accepted the content of, per the customers' delivery mode:
///
/// * `sync`: POST while the client waits; 2xx → 250, 4xx → 550 with the endpoint's text, anything else → 451.
/// * `queued`: append to the spool (fsync'd, group commit) → 250, then hand to the ``DeliveryQueue``.
///
/// A transaction never mixes a `sync` customer with anyone else (``RecipientDirectory`` defers such recipients).
public final class MessageProcessor: MessageIntake {
    let region: Region
    let now: @Sendable () -> Date
    let config: NodeConfigState
    let spool: Spool
    let store: MetadataStore
    let webhooks: WebhookClient
    let queue: DeliveryQueue
    let analyzer: ContentAnalyzer
    /// Nil when the node does not authenticate senders (`--sender-authentication off`).
    let authentication: SenderAuthenticationStep?
    /// Spam and virus scanning; its scanners may be absent (`not_run`).
    let scanning: ContentScanStep
    /// Where a customer's policy holds messages instead of delivering them.
    let quarantine: Quarantine
    let metrics: NodeMetrics
    let logger: Logger

    init(
        region: Region, config: NodeConfigState, spool: Spool, store: MetadataStore, webhooks: WebhookClient, queue: DeliveryQueue,
        analyzer: ContentAnalyzer, authentication: SenderAuthenticationStep?, scanning: ContentScanStep, quarantine: Quarantine, metrics: NodeMetrics,
        logger: Logger, now: @escaping @Sendable () -> Date
    ) {
        self.quarantine = quarantine
        self.now = now
        self.scanning = scanning
        self.authentication = authentication
        self.analyzer = analyzer
        self.region = region
        self.config = config
        self.spool = spool
        self.store = store
        self.webhooks = webhooks
        self.queue = queue
        self.metrics = metrics
        self.logger = logger
    }

    public func accept(_ transaction: SMTPTransaction, configVersion: Int) async -> SMTPReply {
        let start = ContinuousClock.now
        defer { metrics.transaction(ContinuousClock.now - start) }
        let directory = config.directory
        var customers: [NodeBundle.Customer] = []
        for recipient in transaction.recipients {
            guard let customer = directory.customer(recipient.customer) else {
                return SMTPReply(451, "4.3.0", "The configuration changed during the session; please send the message again")
            }
            customers.append(customer)
        }
        var data = transaction.data
        var verdicts: SenderAuthentication? = nil
        if let authentication {
            (data, verdicts) = await authentication.run(transaction)
        }
        let message = MIMEMessage(parsing: data)
        var spooled = SpooledMessage(
            id: ResourceID.make(prefix: "eml", at: now()), receivedAt: now(), remoteIP: transaction.remoteAddress, helo: transaction.helo,
            tls: transaction.tls, from: transaction.from.map(String.init(describing:)) ?? "",
            recipients: zip(transaction.recipients, customers).map {
                .init(address: $0.mailbox.description, customer: $1.id, webhookID: WebhookSignature.makeMessageID())
            },
            configVersion: configVersion)
        spooled.authentication = verdicts
        if scanning.runs {
            spooled.scan = await scanning.run(data, transaction: transaction, queueID: spooled.id, message: message)
        }
        // One policy per transaction (RecipientDirectory keeps it so): a refusal is the reply to DATA.
        switch (customers.first?.filtering ?? .standard).decide(scan: spooled.scan, authentication: verdicts) {
        case .deliver:
            break
        case .reject(let reason):
            await refuse(spooled, message: message, customers: customers, size: data.count, reason: reason)
            return SMTPReply(550, "5.7.1", "Refused: \(reason)")
        case .defer(let reason):
            metrics.filtered(decision: "deferred")
            return SMTPReply(451, "4.7.0", "Not accepted now: \(reason)")
        case .quarantine(let reason):
            do {
                try await quarantine.hold(spooled, data: data, message: message, customers: customers, reason: reason)
            } catch {
                logger.error("smtp: cannot hold a message in quarantine", metadata: ["message": "\(spooled.id)", "error": "\(error)"])
                return SMTPReply(451, "4.3.0", "Local error in processing; try again later")
            }
            metrics.accepted(recipients: customers.count)
            return SMTPReply(250, "2.0.0", "Held as \(spooled.id)")
        }
        if customers.first?.webhook.mode == .sync {
            return await deliverNow(spooled, data: data, message: message, customers: customers, under: directory.header)
        }
        do {
            try await spool.append(spooled, data: data)
        } catch let error as NodeError where error.code == .spoolFull {
            logger.error("smtp: spool disk full; answering 452", metadata: ["message": "\(spooled.id)"])
            return SMTPReply(452, "4.3.1", "Insufficient system storage; try again later")
        } catch {
            logger.error("smtp: cannot spool", metadata: ["message": "\(spooled.id)", "error": "\(error)"])
            return SMTPReply(451, "4.3.0", "Local error in processing; try again later")
        }
        for (index, customer) in customers.enumerated() {
            await store.insert(Self.record(spooled, index, message, customer, size: data.count, status: .queued))
        }
        metrics.accepted(recipients: customers.count)
        // Per message, so at debug only; the client address is masked by the process's log handler.
        logger.debug("smtp: accepted", metadata: ["message": "\(spooled.id)", "remote_ip": "\(spooled.remoteIP)", "recipients": "\(customers.count)"])
        await queue.enqueue(spooled, data: data, parsed: message)
        return SMTPReply(250, "2.0.0", "Queued as \(spooled.id)")
    }

    /// Sync mode: one POST per recipient under `bundle` (the config the customers were taken from), then one
    /// reply for all of them.
    private func deliverNow(
        _ spooled: SpooledMessage, data: [UInt8], message: MIMEMessage, customers: [NodeBundle.Customer], under bundle: NodeBundle
    ) async -> SMTPReply {
        let content = MessageContent(message)
        var results: [WebhookResult] = []
        let subject = message.headers.first(named: "Subject")?.value
        for (index, customer) in customers.enumerated() {
            let analysis = await analyzer.run(for: customer, in: bundle, content: content, subject: subject)
            let result = await webhooks.deliver(
                spooled, recipient: index, data: data, message: message, content: content, to: customer, configVersion: bundle.version, analysis: analysis,
                metrics: metrics)
            let key = DeliveryKey(messageID: spooled.id, recipient: index)
            let status: DeliveryStatus =
                switch result.outcome {
                case .delivered: .delivered
                case .refused: .rejected
                case .temporary: .deferred
                }
            var entry = Self.record(spooled, index, message, customer, size: data.count, status: status)
            entry.attempts = 1
            entry.completedAt = now()
            entry.finalReason = status == .delivered ? nil : result.summary
            entry.metadata.recordServerResponse(result.summary)
            await store.insert(entry)
            await store.recordAttempt(key, number: 1, DeliveryAttempt(result, configVersion: bundle.version, at: now()))
            results.append(result)
        }
        // A sync message is never spooled, so its records are written before the client hears the outcome.
        await store.flush()
        if let temporary = results.first(where: { $0.outcome == .temporary }) {
            return SMTPReply(451, "4.3.0", "The recipient's webhook is unavailable (\(temporary.summary)); try again later")
        }
        if let refused = results.first(where: { $0.outcome == .refused }) {
            return SMTPReply(550, "5.0.0", "The recipient's webhook refused the message: \(refused.summary)")
        }
        metrics.accepted(recipients: customers.count)
        return SMTPReply(250, "2.0.0", "Delivered to the webhook as \(spooled.id)")
    }

    /// A message the customer's policy refuses: nothing is spooled or posted; the message log says why.
    private func refuse(_ spooled: SpooledMessage, message: MIMEMessage, customers: [NodeBundle.Customer], size: Int, reason: String) async {
        metrics.filtered(decision: "rejected")
        for (index, customer) in customers.enumerated() {
            var entry = Self.record(spooled, index, message, customer, size: size, status: .rejected)
            entry.completedAt = now()
            entry.finalReason = "refused with 550 5.7.1 before acceptance: \(reason)"
            await store.insert(entry)
        }
        logger.debug("smtp: refused by the customer's filtering policy", metadata: ["message": "\(spooled.id)", "reason": "\(reason)"])
    }

    static func record(
        _ spooled: SpooledMessage, _ index: Int, _ message: MIMEMessage, _ customer: NodeBundle.Customer, size: Int, status: DeliveryStatus
    ) -> DeliveryRecord {
        let recipient = spooled.recipients[index]
        let metadata = MessageMetadata(
            envelope: spooled.envelope(for: recipient, size: size), message: message, receivedAt: spooled.receivedAt,
            configVersion: spooled.configVersion, redactions: Set(customer.metadataRedactions))
        return DeliveryRecord(
            messageID: spooled.id, recipient: index, customerID: customer.id, webhookID: recipient.webhookID, mode: customer.webhook.mode,
            status: status, attempts: 0, nextAttemptAt: nil, completedAt: nil, finalReason: nil, metadata: metadata)
    }

}

import Foundation
import Logging
import MeridianCore
import MeridianSmarthost
import ServiceLifecycle

/// Delivers spooled messages to webhooks: new ones at once, failed ones again with backoff, until the
/// region's queue lifetime runs out; then the message fails and the sender gets a DSN through the smarthost.
///
/// The spool is the truth: a delivery leaves it only when it is finished (delivered or failed for good),
/// so a crash at any point means another attempt with the same `webhook-id`, never a lost message.
///
/// The actor keeps the schedule only. Its loop sleeps until a delivery is due or a message arrives (a doorbell,
/// rung by ``enqueue(_:data:parsed:)`` and by the timer of the next retry), and each attempt runs off the actor,
/// parsing and decoding included, so deliveries use every core.
///
/// Ready deliveries wait in one lane per customer (``FairQueue``), served round-robin: a customer has at most
/// ``perCustomer`` deliveries in flight of the region's `concurrency`, and none while its webhook's
/// ``CircuitBreaker`` is open, so one tenant's slow or failing webhook never holds everyone's slots.
public actor DeliveryQueue: Service {
    private let region: Region
    private let config: NodeConfigState
    private let analyzer: ContentAnalyzer
    private let spool: Spool
    private let store: MetadataStore
    private let webhooks: WebhookClient
    /// Where delayed and failed deliveries are announced to customers' events URLs.
    private let events: EventPoster
    private let metrics: NodeMetrics
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let smarthost: Smarthost?
    private let hostname: String
    private let concurrency: Int
    private nonisolated let bounceBudget = BounceBudget()

    private var fair: FairQueue
    /// The customer (the lane) of each delivery not yet finished.
    private var lanes: [DeliveryKey: String] = [:]
    private var waiting = DueHeap()
    private var attempts: [DeliveryKey: Int] = [:]
    private var inFlight = 0
    private var bounces: [DeliveryKey: Bounce] = [:]
    /// Messages just accepted, kept in memory for their first attempt so that it need not read the spool
    /// back; bounded, and only a shortcut: the spool stays the truth.
    private var fresh: [String: (message: SpooledMessage, data: [UInt8], parsed: MIMEMessage, firstAttemptsLeft: Int)] = [:]
    private var freshBytes = 0
    static let freshLimit = 64 << 20
    /// Deliveries erased for a data-subject request: dropped when next due, and an attempt in flight writes nothing.
    private var erased: Set<DeliveryKey> = []
    /// When the timer of the earliest waiting retry rings, if one is set.
    private var timer: ContinuousClock.Instant?
    private nonisolated let doorbell: AsyncStream<Void>
    private nonisolated let bell: AsyncStream<Void>.Continuation

    init(
        region: Region, config: NodeConfigState, spool: Spool, store: MetadataStore, webhooks: WebhookClient, events: EventPoster,
        analyzer: ContentAnalyzer, metrics: NodeMetrics, smarthost: Smarthost?, hostname: String, concurrency: Int, logger: Logger,
        now: @escaping @Sendable () -> Date
    ) {
        self.region = region
        self.events = events
        self.analyzer = analyzer
        self.config = config
        self.spool = spool
        self.store = store
        self.webhooks = webhooks
        self.metrics = metrics
        self.smarthost = smarthost
        self.hostname = hostname
        self.concurrency = concurrency
        self.fair = FairQueue(perLane: min(concurrency, Self.perCustomer))
        self.logger = logger
        self.now = now
        (doorbell, bell) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Deliveries of one customer in flight at most, as the webhook client allows per endpoint.
    static let perCustomer = 16

    /// The queue policy of the config version in force (the region file's when the bundle has none).
    private var queuePolicy: QueuePolicy { region.applying(config.directory.header.policy).queue }
    private var backoff: Backoff { Backoff(queuePolicy) }

    /// A message just spooled, with the parse the intake already made: its recipients are due now.
    func enqueue(_ message: SpooledMessage, data: [UInt8], parsed: MIMEMessage) {
        if freshBytes + data.count <= Self.freshLimit {
            fresh[message.id] = (message, data, parsed, message.recipients.count)
            freshBytes += data.count
        }
        for (index, recipient) in message.recipients.enumerated() {
            let key = DeliveryKey(messageID: message.id, recipient: index)
            lanes[key] = recipient.customer
            fair.push(key, lane: recipient.customer)
        }
        metrics.queueDepth(spool.depth)
        bell.yield()
    }

    /// Deliveries found in the spool at start, each with its customer, and their attempt counts from the metadata store.
    func resume(_ keys: [(key: DeliveryKey, customer: String)], attemptsSoFar: [DeliveryKey: Int]) {
        for (key, customer) in keys {
            attempts[key] = attemptsSoFar[key] ?? 0
            lanes[key] = customer
            fair.push(key, lane: customer)
        }
        metrics.queueDepth(spool.depth)
        bell.yield()
    }

    public var pending: Int { fair.count + waiting.count + inFlight }

    /// Brings a delivery waiting for its retry forward to now (a customer's "redeliver"); its attempts go on
    /// counting, and its customer's pause (an open breaker) still holds.
    public func redeliver(_ key: DeliveryKey) -> RedeliveryAnswer.Outcome {
        guard let lane = lanes[key], !erased.contains(key) else { return .notInSpool }
        guard waiting.remove(key) else { return .due }
        fair.push(key, lane: lane)
        bell.yield()
        return .scheduled
    }

    /// Stops the deliveries of an erasure: they are not attempted again, and the spool has already let them go.
    func forget(_ keys: some Sequence<DeliveryKey>) {
        for key in keys {
            erased.insert(key)
            bounces[key] = nil
            if let entry = fresh.removeValue(forKey: key.messageID) { freshBytes -= entry.data.count }
        }
    }

    /// Starts every due delivery, up to the concurrency, each time the doorbell rings; ends on graceful shutdown
    /// once the attempts in flight have.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                dispatch(into: &group)
                for await _ in doorbell {
                    guard !Task.isShuttingDownGracefully else { break }
                    dispatch(into: &group)
                }
            }
        } onGracefulShutdown: { [bell] in
            bell.finish()
        }
    }

    /// Starts what is due, and sets a timer for the earliest retry still waiting (or paused webhook to try again)
    /// when none is set before it.
    private func dispatch(into group: inout DiscardingTaskGroup) {
        for key in takeDue() {
            group.addTask { await self.deliver(key) }
        }
        guard let due = [waiting.first?.due, fair.nextReopening()].compactMap({ $0 }).min(), timer.map({ due < $0 }) ?? true else { return }
        timer = due
        group.addTask { [bell] in
            // Ends at once on graceful shutdown, so that a retry hours away does not hold the queue open.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(until: due, clock: .continuous) }
            await self.timerRang(due)
            bell.yield()
        }
    }

    private func timerRang(_ due: ContinuousClock.Instant) {
        if timer == due { timer = nil }
    }

    /// Retries that are due join their customer's lane; then the lanes give what may start, round-robin.
    private func takeDue() -> [DeliveryKey] {
        let now = ContinuousClock.now
        while let first = waiting.first, first.due <= now, let key = waiting.popFirst() {
            fair.push(key, lane: lanes[key] ?? "")
        }
        let batch = fair.take(concurrency - inFlight, at: now).map { $0.key }
        inFlight += batch.count
        return batch
    }

    /// A delivery's attempt is over: its lane gets its place back and its breaker the outcome (`nil` when
    /// ``settle(_:_:)`` already gave it); it waits `delay` seconds for another, or is finished.
    private func finished(_ key: DeliveryKey, retryAfter delay: Double?, outcome: CircuitBreaker.Outcome? = .neutral) {
        if let outcome { _ = settle(key, outcome) }
        inFlight -= 1
        if let delay {
            waiting.insert(key, due: .now + .milliseconds(Int64(delay * 1000)))
        } else {
            attempts[key] = nil
            lanes[key] = nil
        }
        metrics.queueDepth(spool.depth)
        bell.yield()
    }

    /// Gives the attempt's outcome to its customer's breaker; returns until when the webhook is paused when this
    /// outcome paused it.
    private func settle(_ key: DeliveryKey, _ outcome: CircuitBreaker.Outcome) -> Date? {
        let lane = lanes[key] ?? ""
        let event = fair.finished(lane: lane, outcome, at: .now)
        metrics.openCircuits(fair.openCircuits)
        switch event {
        case .opened(let until, let failures):
            metrics.circuitOpened()
            let seconds = Double((until - .now).components.seconds)
            logger.warning(
                "delivery: a webhook keeps failing; its deliveries are paused",
                metadata: ["customer": "\(lane)", "failures": "\(failures)", "seconds": "\(Int(seconds))"])
            return now().addingTimeInterval(seconds)
        case .closed:
            logger.info("delivery: a paused webhook answers again", metadata: ["customer": "\(lane)"])
            return nil
        case nil:
            return nil
        }
    }

    /// What one attempt starts from: the message, its parse when the intake made one, and the attempt's number;
    /// nil when the delivery was erased.
    private func begin(_ key: DeliveryKey) throws -> (message: SpooledMessage, data: [UInt8], parsed: MIMEMessage?, number: Int)? {
        if erased.remove(key) != nil { return nil }
        let (message, data, parsed) = try load(key)
        if bounces[key] != nil { return (message, data, parsed, 0) }
        let number = attempts[key, default: 0] + 1
        attempts[key] = number
        return (message, data, parsed, number)
    }

    /// The message (and its parse) from memory on its first attempts, else from the spool.
    private func load(_ key: DeliveryKey) throws -> (SpooledMessage, [UInt8], MIMEMessage?) {
        guard var entry = fresh[key.messageID] else {
            let (message, data) = try spool.read(key.messageID)
            return (message, data, nil)
        }
        entry.firstAttemptsLeft -= 1
        if entry.firstAttemptsLeft == 0 {
            fresh[key.messageID] = nil
            freshBytes -= entry.data.count
        } else {
            fresh[key.messageID] = entry
        }
        return (entry.message, entry.data, entry.parsed)
    }

    /// Whether an erasure came while the attempt was in flight: then it writes nothing.
    private func wasErased(_ key: DeliveryKey) -> Bool {
        erased.remove(key) != nil
    }

    private func pendingBounce(_ key: DeliveryKey) -> Bounce? { bounces[key] }

    private func setBounce(_ key: DeliveryKey, _ bounce: Bounce?) { bounces[key] = bounce }

    /// One attempt, off the actor: reads the message, builds the payload under the config in force now, posts it
    /// and decides what happens next.
    private nonisolated func deliver(_ key: DeliveryKey) async {
        let started: (message: SpooledMessage, data: [UInt8], parsed: MIMEMessage?, number: Int)?
        do {
            started = try await begin(key)
        } catch {
            logger.error("delivery: cannot read the spooled message; it stays in the spool", metadata: ["delivery": "\(key)", "error": "\(error)"])
            return await finished(key, retryAfter: await backoff.maximum)
        }
        guard let (spooled, data, parsed, number) = started else { return await finished(key, retryAfter: nil) }
        if let bounce = await pendingBounce(key) {
            return await finished(key, retryAfter: await fail(key, spooled, data: data, bounce))
        }
        let recipient = spooled.recipients[key.recipient]
        let result: WebhookResult
        var webhookAsked = true
        // The config in force now: its webhook, redactions and steps, and its version in the payload and the attempt.
        let directory = config.directory
        let version = directory.version
        if let customer = directory.customer(recipient.customer) {
            let message = parsed ?? MIMEMessage(parsing: data)
            let content = MessageContent(message)
            // The step follows the config in force now: an objection made while the message waited is respected.
            let analysis = await analyzer.run(
                for: customer, in: directory.header, content: content, subject: message.headers.first(named: "Subject")?.value)
            result = await webhooks.deliver(
                spooled, recipient: key.recipient, data: data, message: message, content: content, to: customer, configVersion: version,
                analysis: analysis, metrics: metrics)
        } else {
            webhookAsked = false
            result = WebhookResult(
                outcome: .temporary, statusCode: nil, text: "customer \(recipient.customer) is not in the configuration in force",
                duration: .zero)
            metrics.attempt(result: result.outcome.rawValue, duration: result.duration)
        }
        // What the breaker of the customer's webhook learns: a refusal is an answer, and a customer missing from
        // the config says nothing about its webhook.
        let outcome: CircuitBreaker.Outcome =
            switch result.outcome {
            case .delivered: .success
            case .temporary where webhookAsked: .failure
            default: .neutral
            }
        if await wasErased(key) { return await finished(key, retryAfter: nil, outcome: outcome) }
        await store.recordAttempt(key, number: number, DeliveryAttempt(result, configVersion: version, at: now()))

        let policy = await queuePolicy
        switch result.outcome {
        case .delivered:
            await store.updateStatus(key, .delivered, attempts: number, completedAt: now(), serverResponse: result.summary)
            spool.complete(key)
            await finished(key, retryAfter: nil, outcome: outcome)
        case .refused:
            let bounce = Bounce(
                status: "5.0.0", reason: "the webhook refused the message: \(result.summary)",
                notice: result.statusCode.map { "the recipient's webhook refused the message (HTTP \($0))" }
                    ?? "the recipient's webhook cannot be used",
                attempts: number, since: now())
            await finished(key, retryAfter: await fail(key, spooled, data: data, bounce))
        case .temporary:
            let expiry = spooled.receivedAt.addingTimeInterval(Double(policy.messageLifetime.seconds))
            let date = now()
            let pausedUntil = await settle(key, outcome)
            if date >= expiry {
                let bounce = Bounce(
                    status: "4.4.7", reason: "the queue lifetime of \(policy.messageLifetime) ran out; last error: \(result.summary)",
                    notice: "the recipient's webhook could not take the message within \(policy.messageLifetime)", attempts: number, since: date)
                await finished(key, retryAfter: await fail(key, spooled, data: data, bounce), outcome: nil)
            } else {
                var delay = min(Backoff(policy).delay(afterAttempt: number), expiry.timeIntervalSince(date))
                var reason = result.summary
                if let pausedUntil {
                    // The webhook failed too often in a row: the message log says so, and this delivery waits it out.
                    delay = min(max(delay, pausedUntil.timeIntervalSince(date)), expiry.timeIntervalSince(date))
                    reason += "; paused after \(CircuitBreaker.threshold) failures in a row, deliveries to this webhook resume at \(ISOTime.string(pausedUntil))"
                }
                await store.updateStatus(
                    key, .queued, attempts: number, nextAttemptAt: date.addingTimeInterval(delay), reason: reason, serverResponse: result.summary)
                if number == 1 { await announce(.messageDelayed, key, customer: recipient.customer, reason: reason, next: date.addingTimeInterval(delay)) }
                await finished(key, retryAfter: delay, outcome: nil)
            }
        }
    }

    /// A delivery that failed for good and whose DSN is still to be sent.
    struct Bounce: Sendable {
        var status: String
        /// Why, for the delivery log: with the endpoint's answer.
        var reason: String
        /// Why, for the sender's DSN: never the endpoint's text, which the customer controls.
        var notice: String
        var attempts: Int
        var since: Date
        var dsnAttempts = 0
    }

    /// Gives up on a delivery: the metadata says why, the sender gets a DSN, the spool lets it go. When the
    /// smarthost cannot take the DSN, the delivery stays in the spool and only the DSN is tried again (with the
    /// same backoff, for up to the queue lifetime); returns the delay before that, or nil when finished.
    private nonisolated func fail(_ key: DeliveryKey, _ spooled: SpooledMessage, data: [UInt8], _ bounce: Bounce) async -> Double? {
        var bounce = bounce
        var finalReason = bounce.reason
        let policy = await queuePolicy
        let recipient = spooled.recipients[key.recipient]
        if spooled.from.isEmpty {
            finalReason += "; no DSN (null sender)"
        } else if let spf = spooled.authentication?.spf, spf.result != .pass {
            // Only a sender whose domain vouched for the client gets a DSN: any other MAIL FROM may be forged,
            // and a DSN to it would be backscatter.
            finalReason += "; no DSN (the sender's SPF result is \(spf.result.rawValue), so the address may be forged)"
        } else if bounce.dsnAttempts == 0, let spent = bounceBudget.take(sender: spooled.from, customer: recipient.customer, at: now()) {
            finalReason += "; no DSN (rate limit: \(spent))"
        } else if let smarthost {
            let dsn = DeliveryStatusNotification(
                reportingHost: hostname, sender: spooled.from, recipient: spooled.recipients[key.recipient].address,
                arrivalDate: spooled.receivedAt, status: bounce.status.hasPrefix("4") ? "5" + bounce.status.dropFirst() : bounce.status,
                reason: bounce.notice, originalHeader: DeliveryStatusNotification.header(of: data), messageID: spooled.id)
            do {
                bounce.dsnAttempts += 1
                try await SmarthostClient.send(dsn.encoded(now: now()), from: "", to: spooled.from, via: smarthost, helo: hostname)
                finalReason += "; DSN sent to \(spooled.from)"
            } catch {
                let giveUp = now().timeIntervalSince(bounce.since) >= Double(policy.messageLifetime.seconds)
                logger.error("delivery: DSN not sent", metadata: ["delivery": "\(key)", "error": "\(error)", "retrying": "\(!giveUp)"])
                if !giveUp {
                    await setBounce(key, bounce)
                    await store.updateStatus(
                        key, .failed, attempts: bounce.attempts, completedAt: now(),
                        reason: finalReason + "; the DSN to \(spooled.from) is being retried (\(error))")
                    return Backoff(policy).delay(afterAttempt: bounce.dsnAttempts)
                }
                finalReason += "; the DSN to \(spooled.from) could not be sent: \(error)"
            }
        } else {
            finalReason += "; no DSN (no smarthost configured)"
        }
        await setBounce(key, nil)
        // The log names the delivery, never an address: process logs hold nothing a data-subject erasure must reach.
        logger.warning("delivery: failed for good", metadata: ["delivery": "\(key)", "reason": "\(bounce.reason)"])
        await store.updateStatus(key, .failed, attempts: bounce.attempts, completedAt: now(), reason: finalReason)
        spool.complete(key)
        await announce(.messageFailed, key, customer: recipient.customer, reason: bounce.reason)
        return nil
    }

    /// Tells the customer's events URL, if it has one, what became of a delivery, with its record as the store
    /// now has it (written first, so the event and the message log agree).
    private nonisolated func announce(_ kind: DeliveryEvent.Kind, _ key: DeliveryKey, customer id: String, reason: String?, next: Date? = nil) async {
        guard let customer = config.directory.customer(id), customer.webhook.eventsURL != nil else { return }
        await store.flush()
        guard let (record, _) = try? await store.delivery(key) else { return }
        events.post(DeliveryEvent(kind, delivery: record, region: region.id, reason: reason, nextAttemptAt: next, at: now()), for: customer)
    }
}

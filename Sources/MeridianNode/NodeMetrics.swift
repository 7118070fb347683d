import Foundation
import Metrics
import Prometheus

/// The node's metrics, exposed on the control API's `/metrics` in the Prometheus text format.
///
/// Every series carries the `region` label, so that `meridian up`, which runs three nodes in one process,
/// reports each region apart.
public struct NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let region: String
    private let acceptedCounter: Metrics.Counter
    private let transactionTimer: Metrics.Timer
    private let deliveryTimer: Metrics.Timer
    private let depthGauge: Metrics.Gauge
    private let versionGauge: Metrics.Gauge
    private let queueAgeGauge: Metrics.Gauge

    public init(region: String, registry: PrometheusCollectorRegistry) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        let buckets: [Duration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.defaultDurationHistogramBuckets = buckets
        self.factory = factory
        self.region = region
        acceptedCounter = Metrics.Counter(label: "meridian_smtp_messages_accepted_total", dimensions: [("region", region)], factory: factory)
        transactionTimer = Metrics.Timer(label: "meridian_smtp_transaction_seconds", dimensions: [("region", region)], factory: factory)
        deliveryTimer = Metrics.Timer(label: "meridian_webhook_request_seconds", dimensions: [("region", region)], factory: factory)
        depthGauge = Metrics.Gauge(label: "meridian_queue_depth", dimensions: [("region", region)], factory: factory)
        versionGauge = Metrics.Gauge(label: "meridian_config_version", dimensions: [("region", region)], factory: factory)
        queueAgeGauge = Metrics.Gauge(label: "meridian_queue_oldest_seconds", dimensions: [("region", region)], factory: factory)
        openCircuits(0)
    }

    /// A message got its 250, counted once per recipient.
    func accepted(recipients: Int) { acceptedCounter.increment(by: recipients) }

    /// A 4xx or 5xx reply, by code.
    func rejected(code: Int) {
        Metrics.Counter(label: "meridian_smtp_rejections_total", dimensions: [("region", region), ("code", "\(code)")], factory: factory).increment()
    }

    /// From the end of DATA to the final reply.
    func transaction(_ duration: Duration) { transactionTimer.recordNanoseconds(duration.nanoseconds) }

    func attempt(result: String, duration: Duration) {
        Metrics.Counter(label: "meridian_delivery_attempts_total", dimensions: [("region", region), ("result", result)], factory: factory).increment()
        deliveryTimer.recordNanoseconds(duration.nanoseconds)
    }

    func queueDepth(_ depth: Int) { depthGauge.record(depth) }

    /// One check's verdict for one message: `check` is spf, dkim (per signature) or dmarc.
    func authentication(check: String, result: String) {
        Metrics.Counter(
            label: "meridian_sender_authentication_total", dimensions: [("region", region), ("check", check), ("result", result)], factory: factory
        ).increment()
    }

    /// One scan of one message by `scanner` (rspamd, clamd): its result (scanned, clean, infected, failed) and time.
    func scan(scanner: String, result: String, duration: Duration) {
        Metrics.Counter(
            label: "meridian_scans_total", dimensions: [("region", region), ("scanner", scanner), ("result", result)], factory: factory
        ).increment()
        Metrics.Timer(label: "meridian_scan_seconds", dimensions: [("region", region), ("scanner", scanner)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// Messages held in the quarantine now.
    func quarantined(_ count: Int) {
        Metrics.Gauge(label: "meridian_quarantine_messages", dimensions: [("region", region)], factory: factory).record(count)
    }

    /// A message a customer's filtering policy refused (550), deferred (451) or quarantined.
    func filtered(decision: String) {
        Metrics.Counter(label: "meridian_filtered_messages_total", dimensions: [("region", region), ("decision", decision)], factory: factory)
            .increment()
    }

    /// How long a message's SPF, DKIM and DMARC checks took together.
    func authenticationTime(_ duration: Duration) {
        Metrics.Timer(label: "meridian_sender_authentication_seconds", dimensions: [("region", region)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// A customer's webhook failed often enough in a row that its deliveries are paused (``CircuitBreaker``).
    func circuitOpened() {
        Metrics.Counter(label: "meridian_webhook_circuit_opened_total", dimensions: [("region", region)], factory: factory).increment()
    }

    /// How many customers' webhooks are paused now.
    func openCircuits(_ count: Int) {
        Metrics.Gauge(label: "meridian_webhook_circuits_open", dimensions: [("region", region)], factory: factory).record(count)
    }

    /// How long the oldest queued delivery has waited (0 with none): the alert on a stuck queue reads it.
    func queueAge(seconds: Double) { queueAgeGauge.record(seconds) }

    /// The node's clock minus the coordinator's, measured at each pull. Created at the first measurement, so a
    /// node without a coordinator has no series rather than a misleading 0.
    func clockSkew(seconds: Double) {
        Metrics.Gauge(label: "meridian_clock_skew_seconds", dimensions: [("region", region)], factory: factory).record(seconds)
    }

    func bundleApplied(version: Int) {
        versionGauge.record(version)
        Metrics.Counter(label: "meridian_config_bundles_total", dimensions: [("region", region), ("result", "ack")], factory: factory).increment()
    }

    func bundleRefused() {
        Metrics.Counter(label: "meridian_config_bundles_total", dimensions: [("region", region), ("result", "nack")], factory: factory).increment()
    }

    /// When the node's certificate expires (Unix seconds), set at start and at each renewal: the alert on a
    /// certificate that is not being renewed reads it.
    func certificateExpiry(_ date: Date) {
        Metrics.Gauge(label: "meridian_node_certificate_expiry_timestamp_seconds", dimensions: [("region", region)], factory: factory)
            .record(date.timeIntervalSince1970)
    }

    /// A renewal tried, by result (`ok` or `failed`).
    func certificateRenewal(ok: Bool) {
        Metrics.Counter(
            label: "meridian_node_certificate_renewals_total", dimensions: [("region", region), ("result", ok ? "ok" : "failed")], factory: factory
        ).increment()
    }

    public func render() -> [UInt8] { registry.emitToBuffer() }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

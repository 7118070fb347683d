import Crypto
import Foundation
import Hummingbird
import Logging
import MeridianCore
import MeridianSmarthost
import NIOCore
import NIOSSL
import Prometheus
import ServiceLifecycle

/// Everything a regional node is started with. `meridian node` and `meridian up` fill it from their flags.
public struct NodeConfiguration: Sendable {
    public var region: Region
    public var nodeID: String
    public var smtp: SMTPServerConfiguration
    public var controlHost = "127.0.0.1"
    public var controlPort = 9101
    /// Holds the metadata store (`metadata.sqlite`) and, by default, the spool.
    public var dataDirectory: String
    public var spoolDirectory: String
    /// The local bundle file (the shape of a config bundle), re-read when it changes.
    public var bundlePath: String
    /// The coordinator's bundle-signing public key. With it, only bundles it signed are applied; without it
    /// (development), plain bundle files are.
    public var trustedKey: Curve25519.Signing.PublicKey?
    /// Where the last bundle applied is kept, to start from when the bundle file is unusable.
    public var lastKnownGoodPath: String { (dataDirectory as NSString).appendingPathComponent("bundle.last-good.json") }
    /// PEM files for STARTTLS; no STARTTLS without them.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var smarthost: Smarthost?
    /// The analysis service of the `content_analysis` step; it runs only where the config in force allows it.
    public var analysisURL: String?
    public var deliveryConcurrency = 64
    /// Hex SHA-256 of the node token the control API accepts.
    public var controlTokenHash: String?
    public var retentionInterval: Duration = .seconds(3600)
    /// The coordinator to pull bundles from and report to; nil runs from the bundle file alone.
    public var coordinatorURL: String?
    /// The node token, which the coordinator accepts from nodes (needed with `coordinatorURL`).
    public var coordinatorToken: String?
    /// How often the node pulls to reconcile, besides the coordinator's pushes.
    public var pullInterval: Duration = .seconds(30)
    /// The control API's URL as the coordinator reaches it, for pushes (default: from host and port).
    public var controlURL: String?
    public var advertisedControlURL: String {
        if let controlURL { return controlURL }
        let host = ["0.0.0.0", "::", ""].contains(controlHost) ? smtp.hostname : controlHost
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(controlPort)"
    }

    public init(region: Region, nodeID: String, dataDirectory: String, hostname: String) {
        self.region = region
        self.nodeID = nodeID
        self.dataDirectory = dataDirectory
        self.spoolDirectory = (dataDirectory as NSString).appendingPathComponent("spool")
        self.bundlePath = (dataDirectory as NSString).appendingPathComponent("bundle.json")
        self.smtp = SMTPServerConfiguration(hostname: hostname)
    }
}

/// Why a node cannot start; the text names the file or flag.
public struct NodeStartError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One regional node: the SMTP listener, the spool, the delivery queue, the metadata store with its
/// retention job, and the control API, wired together as services of one ServiceGroup.
public final class RegionalNode: Sendable {
    public let configuration: NodeConfiguration
    public let region: Region
    public var nodeID: String { configuration.nodeID }
    public let config: NodeConfigState
    public let spool: Spool
    public let store: MetadataStore
    public let metrics: NodeMetrics
    /// The node's clock against the coordinator's, from each pull.
    let clock = CoordinatorClock()
    let webhooks: WebhookClient
    let queue: DeliveryQueue
    public let smtp: SMTPServer
    let logger: Logger
    private let recovered: [Spool.Recovered]
    /// Held for the node's life: no second node on the same data or spool directory.
    private let locks: [DirectoryLock]

    /// Opens the spool and the store, recovers what the spool holds, loads the bundle. Nothing listens yet.
    /// `webhooks` is the process's one HTTP client for webhooks; nodes in one process (`meridian up`) share it.
    public static func open(
        _ configuration: NodeConfiguration, webhooks: WebhookClient, registry: PrometheusCollectorRegistry, logger: Logger
    ) async throws -> RegionalNode {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: configuration.spoolDirectory, withIntermediateDirectories: true)
        let locks = try [configuration.dataDirectory, configuration.spoolDirectory].map(DirectoryLock.init)
        let bundle = try BundleFile.load(configuration, logger: logger)
        let tls = try makeTLSContext(configuration)
        let spool = try Spool(directory: configuration.spoolDirectory, logger: logger)
        let recovered = try spool.recover()
        let store = try await MetadataStore.open(
            path: (configuration.dataDirectory as NSString).appendingPathComponent("metadata.sqlite"), logger: logger)
        return RegionalNode(
            configuration, locks: locks, bundle: bundle, tls: tls, spool: spool, recovered: recovered, store: store, webhooks: webhooks,
            registry: registry, logger: logger)
    }

    private init(
        _ configuration: NodeConfiguration, locks: [DirectoryLock], bundle: NodeBundle, tls: NIOSSLContext?, spool: Spool,
        recovered: [Spool.Recovered], store: MetadataStore, webhooks: WebhookClient, registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.locks = locks
        self.configuration = configuration
        self.region = configuration.region
        self.config = NodeConfigState(bundle)
        self.spool = spool
        self.recovered = recovered
        self.store = store
        self.logger = logger
        let metrics = NodeMetrics(region: configuration.region.id.rawValue, registry: registry)
        self.metrics = metrics
        self.webhooks = webhooks
        let analyzer = ContentAnalyzer(url: configuration.analysisURL, logger: logger)
        self.queue = DeliveryQueue(
            region: configuration.region, config: config, spool: spool, store: store, webhooks: webhooks, analyzer: analyzer, metrics: metrics,
            smarthost: configuration.smarthost, hostname: configuration.smtp.hostname, concurrency: configuration.deliveryConcurrency,
            logger: logger)
        let processor = MessageProcessor(
            region: configuration.region, config: config, spool: spool, store: store, webhooks: webhooks, queue: queue, analyzer: analyzer,
            metrics: metrics, logger: logger)
        let config = self.config
        self.smtp = SMTPServer(configuration: configuration.smtp, tls: tls, intake: processor, metrics: metrics, logger: logger) {
            let directory = config.directory
            return (directory, directory.bundle.version)
        }
    }

    /// The services to run. A ServiceGroup stops them in reverse order, so SMTP (last) drains first while the
    /// delivery queue still runs, and the control API (first) answers health checks until the end.
    public func services() async throws -> [any Service] {
        if !recovered.isEmpty {
            var keys: [DeliveryKey] = []
            var attempts: [DeliveryKey: Int] = [:]
            for item in recovered {
                let (message, data) = try spool.read(item.message.id)
                let parsed = MIMEMessage(parsing: data)
                for index in item.pendingRecipients {
                    let key = DeliveryKey(messageID: message.id, recipient: index)
                    keys.append(key)
                    if let (record, _) = try await store.delivery(key) {
                        attempts[key] = record.attempts
                    } else if let customer = config.directory.customer(message.recipients[index].customer) {
                        await store.insert(MessageProcessor.record(message, index, parsed, customer, size: data.count, status: .queued))
                    }
                }
            }
            logger.info("spool: resuming \(keys.count) deliveries found on disk", metadata: ["region": "\(region.id)"])
            await queue.resume(keys, attemptsSoFar: attempts)
        }
        let router = ControlAPI(node: self, tokenHash: configuration.controlTokenHash).router()
        let control = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.controlHost, port: configuration.controlPort), serverName: "meridian-node"),
            logger: logger)
        var services: [any Service] = [control, queue, RetentionJob(node: self, interval: configuration.retentionInterval), BundleWatcher(node: self)]
        if let coordinator = configuration.coordinatorURL, let token = configuration.coordinatorToken {
            services.append(CoordinatorLink(node: self, coordinator: coordinator, token: token, interval: configuration.pullInterval))
        }
        return services + [smtp]
    }

    /// Answers `GET /v1/status`.
    struct Status: Encodable {
        var region: String
        var node: String
        var configVersion: Int
        var customers: Int
        var smtp: SMTP
        var queue: Queue
        var deliveries: [String: Int]
        /// This node's clock minus the coordinator's, in seconds; null until the coordinator first answered.
        var clockSkewSeconds: Double?

        struct SMTP: Encodable {
            var port: Int?
            var openConnections: Int
            var starttls: Bool

            enum CodingKeys: String, CodingKey {
                case port, starttls
                case openConnections = "open_connections"
            }
        }

        struct Queue: Encodable {
            /// Recipients accepted and not yet finished (delivered or failed for good).
            var spooledRecipients: Int
            /// Deliveries waiting in memory for their next attempt or being attempted.
            var scheduled: Int

            enum CodingKeys: String, CodingKey {
                case scheduled
                case spooledRecipients = "spooled_recipients"
            }
        }

        enum CodingKeys: String, CodingKey {
            case region, node, customers, smtp, queue, deliveries
            case configVersion = "config_version"
            case clockSkewSeconds = "clock_skew_seconds"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(region, forKey: .region)
            try container.encode(node, forKey: .node)
            try container.encode(configVersion, forKey: .configVersion)
            try container.encode(customers, forKey: .customers)
            try container.encode(smtp, forKey: .smtp)
            try container.encode(queue, forKey: .queue)
            try container.encode(deliveries, forKey: .deliveries)
            try container.encode(clockSkewSeconds, forKey: .clockSkewSeconds)  // null, not absent, before the first pull
        }
    }

    func status() async throws -> Status {
        let counts = try await store.countsByStatus()
        return Status(
            region: region.id.rawValue, node: nodeID, configVersion: config.version, customers: config.directory.bundle.customers.count,
            smtp: .init(port: smtp.port, openConnections: smtp.openConnections, starttls: configuration.tlsCertificatePath != nil),
            queue: .init(spooledRecipients: spool.depth, scheduled: await queue.pending),
            deliveries: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }), clockSkewSeconds: clock.skew)
    }

    static func makeTLSContext(_ configuration: NodeConfiguration) throws -> NIOSSLContext? {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw NodeStartError("cannot load the TLS certificate \(certificatePath) or key \(keyPath): \(error)")
        }
    }

    /// Writes pending metadata and closes the store; called after the services stopped.
    public func close() async {
        try? await store.close()
    }
}

/// Reads the local bundle file: a signed bundle (`key_id`, `payload`, `signature`) when the node trusts a
/// coordinator key, else a plain one. A missing file means an empty bundle (version 0): the node refuses every
/// recipient with `550 5.1.1` until customers are configured. Each bundle applied is also kept as the
/// last-known-good, which a start falls back to when the file is unusable.
enum BundleFile {
    static func load(_ configuration: NodeConfiguration, logger: Logger) throws -> NodeBundle {
        let path = configuration.bundlePath
        let region = configuration.region.id
        guard let data = FileManager.default.contents(atPath: path) else {
            if let good = lastKnownGood(configuration) {
                logger.warning("node: no bundle at \(path); starting from the last-known-good, version \(good.version)")
                return good
            }
            logger.notice("node: no bundle at \(path) yet; no customers are configured", metadata: ["region": "\(region)"])
            return NodeBundle(version: 0, region: region, customers: [])
        }
        do {
            let bundle = try decode(data, configuration)
            keep(data, configuration, logger: logger)
            return bundle
        } catch {
            if let good = lastKnownGood(configuration) {
                logger.error(
                    "node: the bundle \(path) cannot be used; starting from the last-known-good, version \(good.version)",
                    metadata: ["error": "\(error)"])
                return good
            }
            throw NodeStartError("the bundle \(path) cannot be used: \(error)")
        }
    }

    static func decode(_ data: Data, _ configuration: NodeConfiguration) throws(NodeBundleError) -> NodeBundle {
        let region = configuration.region.id
        let envelope = try? JSONDecoder().decode(SignedBundle.self, from: data)
        switch (configuration.trustedKey, envelope) {
        case (let key?, let envelope?):
            return try envelope.verify(with: key, region: region)
        case (.some, nil):
            throw NodeBundleError("expected a signed bundle (key_id, payload, signature): this node trusts only bundles the coordinator signed")
        case (nil, .some):
            throw NodeBundleError("the bundle is signed but this node has no key to verify it with (--trust-key)")
        case (nil, nil):
            return try NodeBundle.decode(data, expectedRegion: region)
        }
    }

    /// Saves the bytes of an applied bundle as the last-known-good (written aside, then renamed).
    static func keep(_ data: Data, _ configuration: NodeConfiguration, logger: Logger) {
        let path = configuration.lastKnownGoodPath
        do {
            try data.write(to: URL(fileURLWithPath: path + ".tmp"))
            guard rename(path + ".tmp", path) == 0 else { throw NodeStartError(String(cString: strerror(errno))) }
        } catch {
            logger.error("node: cannot keep the last-known-good bundle", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    static func lastKnownGood(_ configuration: NodeConfiguration) -> NodeBundle? {
        guard let data = FileManager.default.contents(atPath: configuration.lastKnownGoodPath) else { return nil }
        return try? decode(data, configuration)
    }

    static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

/// What became of a bundle offered to the node, from the bundle file, a coordinator push or a pull: the
/// node's ACK or NACK.
public struct BundleReport: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case ack, nack }
    public var status: Status
    /// The version the offer carried, when it could be read.
    public var offered: Int?
    /// The version in force after the offer.
    public var version: Int
    /// Why a NACK was given.
    public var error: String?
}

extension RegionalNode {
    /// Verifies (with `--trust-key`), validates and, when newer, applies a bundle; keeps it as the
    /// last-known-good. A bundle that fails, or is older than the one in force, is refused and the version in
    /// force stays. The same version again is acknowledged without change.
    public func offer(_ data: Data, from source: String) -> BundleReport {
        let bundle: NodeBundle
        do {
            bundle = try BundleFile.decode(data, configuration)
        } catch {
            logger.error(
                "node: bundle from \(source) refused; version \(config.version) stays in force",
                metadata: ["region": "\(region.id)", "error": "\(error)"])
            metrics.bundleRefused()
            return BundleReport(status: .nack, offered: nil, version: config.version, error: error.description)
        }
        switch config.applyIfNewer(bundle) {
        case .applied:
            BundleFile.keep(data, configuration, logger: logger)
            metrics.bundleApplied(version: bundle.version)
            logger.info("node: applied bundle version \(bundle.version) from \(source)", metadata: ["region": "\(region.id)"])
            return BundleReport(status: .ack, offered: bundle.version, version: bundle.version, error: nil)
        case .alreadyInForce:
            return BundleReport(status: .ack, offered: bundle.version, version: bundle.version, error: nil)
        case .older(let inForce):
            let reason = "version \(bundle.version) is older than version \(inForce) in force"
            logger.warning("node: bundle from \(source) refused: \(reason)", metadata: ["region": "\(region.id)"])
            metrics.bundleRefused()
            return BundleReport(status: .nack, offered: bundle.version, version: inForce, error: reason)
        }
    }
}

/// Re-reads the bundle file when it changes. A bad file is logged and the bundle in force stays.
struct BundleWatcher: Service {
    let node: RegionalNode

    func run() async throws {
        let path = node.configuration.bundlePath
        var seen = BundleFile.modificationDate(path)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            let now = BundleFile.modificationDate(path)
            guard now != seen else { continue }
            seen = now
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            _ = node.offer(data, from: path)
        }
    }
}

/// Applies the retention policy to the metadata store, at start and then every interval.
struct RetentionJob: Service {
    let node: RegionalNode
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // The policy of the config version in force, as the coordinator compiled it from Regions/.
                let policy = node.region.applying(node.config.directory.bundle.policy)
                let result = try await node.store.applyRetention(policy.retention, masking: policy.ipMasking, now: Date())
                if result != .init() {
                    node.logger.info(
                        "retention: deleted \(result.deletedRecords) metadata records, \(result.deletedAttempts) attempts and \(result.deletedSetAside) set-aside writes, masked \(result.maskedAddresses) addresses",
                        metadata: ["region": "\(node.region.id)"])
                }
            } catch is CancellationError {
                return
            } catch {
                node.logger.error("retention: run failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

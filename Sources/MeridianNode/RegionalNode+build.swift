import Foundation
import Hummingbird
import Logging
import MeridianCore
import MeridianServer
import NIOSSL
import Prometheus
import ServiceLifecycle

extension RegionalNode {
    /// Builds a regional node from its configuration, in the order a start needs: the directory locks, the node
    /// token, the bundle (the file, else the last-known-good), the STARTTLS certificate, the spool and what it
    /// holds, the metadata store, then the parts wired to each other, with the deliveries the spool held back on
    /// the queue. Nothing listens until the services run. `meridian node`, `meridian up` and the tests all build
    /// a node here.
    public static func build(
        _ configuration: NodeConfiguration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), logger: Logger
    ) async throws -> RegionalNode {
        let files = FileManager.default
        try files.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        try files.createDirectory(atPath: configuration.spoolDirectory, withIntermediateDirectories: true)
        // Bundles hold webhook secrets, the spool and the store personal data: owner-only, whoever made them.
        for directory in [configuration.dataDirectory, configuration.spoolDirectory] { try PrivateFile.tighten(directory: directory) }
        let locks = try [configuration.dataDirectory, configuration.spoolDirectory].map(DirectoryLock.init)
        let token = try NodeToken.load(file: configuration.nodeTokenFile, create: true)
        let bundleFile = BundleFile(configuration)
        let bundle = try bundleFile.load(logger: logger)
        let tls = try tlsContext(configuration)
        let spool = try Spool(directory: configuration.spoolDirectory, logger: logger)
        let recovered = try spool.recover()
        let now = configuration.now
        let store = try await MetadataStore.open(path: configuration.metadataPath, logger: logger, now: now)
        let webhooks = WebhookClient(timeout: configuration.webhookTimeout, now: now)
        do {
            let region = configuration.region
            let config = NodeConfigState(bundle)
            let metrics = NodeMetrics(region: region.id.rawValue, registry: registry)
            let analyzer = ContentAnalyzer(url: configuration.analysisURL, logger: logger)
            let queue = DeliveryQueue(
                region: region, config: config, spool: spool, store: store, webhooks: webhooks, analyzer: analyzer, metrics: metrics,
                smarthost: configuration.smarthost, hostname: configuration.smtp.hostname, concurrency: configuration.deliveryConcurrency,
                logger: logger, now: now)
            try await SpoolRecovery(region: region.id, spool: spool, store: store, config: config, queue: queue, logger: logger)
                .resume(recovered)
            let processor = MessageProcessor(
                region: region, config: config, spool: spool, store: store, webhooks: webhooks, queue: queue, analyzer: analyzer,
                metrics: metrics, logger: logger, now: now)
            let smtp = SMTPServer(configuration: configuration.smtp, tls: tls, intake: processor, metrics: metrics, logger: logger) {
                let directory = config.directory
                return (directory, directory.bundle.version)
            }
            let bundles = BundleIntake(file: bundleFile, config: config, metrics: metrics, logger: logger)
            let directives = DirectiveExecutor(
                trustedKey: configuration.trustedKey, region: region, nodeID: configuration.nodeID, dataDirectory: configuration.dataDirectory,
                spool: spool, store: store, queue: queue, logger: logger, now: now)
            let clock = CoordinatorClock()
            let control = ControlAPI(
                region: region.id, node: configuration.nodeID, tokenHash: token.hash, store: store, metrics: metrics, bundles: bundles,
                directives: directives,
                status: NodeStatusReporter(
                    region: region.id, node: configuration.nodeID, config: config, store: store, spool: spool, queue: queue, smtp: smtp,
                    clock: clock),
                now: now)
            let retention = MetadataRetention(region: region, config: config, store: store, logger: logger, now: now)
            let watcher = BundleWatcher(file: bundleFile, intake: bundles)
            var services: [any Service] = [
                webhooks, store,
                Application(
                    router: control.router(),
                    configuration: .init(address: .hostname(configuration.controlHost, port: configuration.controlPort), serverName: "meridian-node"),
                    logger: logger),
                queue,
                PeriodicJob("retention", every: configuration.retentionInterval, start: .immediately, logger: logger) {
                    try await retention.runOnce()
                },
                PeriodicJob("bundle file", every: .seconds(1), logger: logger) { watcher.check() },
            ]
            if let coordinator = configuration.coordinatorURL {
                let link = CoordinatorLink(
                    coordinator: coordinator, token: token.secret,
                    identity: .init(region: region.id, node: configuration.nodeID, controlURL: configuration.advertisedControlURL), config: config,
                    intake: bundles, clock: clock, metrics: metrics, logger: logger, now: now)
                services.append(
                    PeriodicJob(
                        "coordinator link", every: configuration.pullInterval, start: .immediately, logger: logger,
                        waitingAfterEachPass: { try await link.pass() }))
            }
            services.append(smtp)
            return RegionalNode(
                configuration: configuration, config: config, spool: spool, store: store, metrics: metrics, queue: queue, smtp: smtp,
                bundles: bundles, directives: directives, webhooks: webhooks, services: services, locks: locks)
        } catch {
            try? await store.close()
            try? await webhooks.shutdown()
            throw error
        }
    }

    static func tlsContext(_ configuration: NodeConfiguration) throws -> NIOSSLContext? {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        } catch {
            throw NodeError(.tlsCertificateUnusable, "cannot load the TLS certificate \(certificatePath) or key \(keyPath): \(error)")
        }
    }
}

import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import MeridianCore
import MeridianServer
import NIOCore
import NIOSSL
import Prometheus
import ServiceLifecycle

extension RegionalNode {
    /// Builds a regional node from its configuration, in the order a start needs: the directory locks, the
    /// enrollment (joining the coordinator first when given a new join token), the bundle (the file, else the
    /// last-known-good), the STARTTLS certificate, the spool and what it holds, the metadata store, then the parts
    /// wired to each other, with the deliveries the spool held back on the queue. Nothing listens until the
    /// services run. `meridian node`, `meridian up` and the tests all build a node here.
    public static func build(
        _ given: NodeConfiguration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), logger: Logger
    ) async throws -> RegionalNode {
        var configuration = given
        let files = FileManager.default
        try files.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        try files.createDirectory(atPath: configuration.spoolDirectory, withIntermediateDirectories: true)
        // Bundles hold webhook secrets, the spool and the store personal data: owner-only, whoever made them.
        for directory in [configuration.dataDirectory, configuration.spoolDirectory] { try PrivateFile.tighten(directory: directory) }
        let locks = try [configuration.dataDirectory, configuration.spoolDirectory].map(DirectoryLock.init)
        let enrollment = try await enrollment(configuration, logger: logger)
        configuration.nodeID = enrollment.node
        let controlPort = configuration.controlPort ?? URLComponents(string: enrollment.controlURL)?.port ?? 9101
        configuration.controlPort = controlPort
        configuration.probePort = configuration.probePort ?? (controlPort == 0 ? 0 : controlPort + 10)
        let credentials = try enrollment.linkCredentials()
        let bundleFile = BundleFile(configuration, key: enrollment.bundleKey)
        let directory = try bundleFile.load(logger: logger)
        let tls = try tlsContext(configuration)
        let spool = try Spool(directory: configuration.spoolDirectory, logger: logger)
        let recovered = try spool.recover()
        let now = configuration.now
        let store = try await MetadataStore.open(path: configuration.metadataPath, logger: logger, now: now)
        let config = NodeConfigState(directory)
        // Every request made for a customer goes out under the egress policy of the config in force.
        let egress = try await EgressClient.start(
            configuration: WebhookClient.httpConfiguration(timeout: configuration.webhookTimeout),
            policy: { config.directory.header.egress ?? .production }, logger: logger)
        let webhooks = WebhookClient(egress: egress, timeout: configuration.webhookTimeout, now: now)
        let events = EventPoster(webhooks: webhooks, logger: logger)
        do {
            let region = configuration.region
            let metrics = NodeMetrics(region: region.id.rawValue, registry: registry)
            metrics.certificateExpiry(enrollment.expiresAt)
            let analyzer = ContentAnalyzer(url: configuration.analysisURL, egress: egress, logger: logger)
            let authentication = try senderAuthentication(configuration, metrics: metrics, logger: logger)
            let scanning = try contentScanning(configuration, metrics: metrics, logger: logger)
            let queue = DeliveryQueue(
                region: region, config: config, spool: spool, store: store, webhooks: webhooks, events: events, analyzer: analyzer, metrics: metrics,
                smarthost: configuration.smarthost, hostname: configuration.smtp.hostname, concurrency: configuration.deliveryConcurrency,
                logger: logger, now: now)
            try await SpoolRecovery(region: region.id, spool: spool, store: store, config: config, queue: queue, logger: logger)
                .resume(recovered)
            let quarantine = Quarantine(
                region: region.id, vault: try QuarantineVault(dataDirectory: configuration.dataDirectory), store: store, spool: spool, queue: queue,
                events: events, metrics: metrics, logger: logger, now: now)
            await quarantine.refreshGauge()
            let processor = MessageProcessor(
                region: region, config: config, spool: spool, store: store, webhooks: webhooks, queue: queue, analyzer: analyzer,
                authentication: authentication, scanning: scanning, quarantine: quarantine, metrics: metrics, logger: logger, now: now)
            let protocolLog = try SMTPProtocolLog(dataDirectory: configuration.dataDirectory, node: configuration.nodeID, logger: logger)
            let smtp = SMTPServer(
                configuration: configuration.smtp, tls: tls, intake: processor, metrics: metrics, protocolLog: protocolLog, now: now, logger: logger
            ) {
                let directory = config.directory
                return (directory, directory.version)
            }
            let bundles = BundleIntake(file: bundleFile, config: config, metrics: metrics, logger: logger)
            let directives = DirectiveExecutor(
                trustedKey: enrollment.bundleKey, region: region, nodeID: configuration.nodeID, dataDirectory: configuration.dataDirectory,
                spool: spool, store: store, queue: queue, quarantine: quarantine, protocolLog: protocolLog, logger: logger, now: now)
            let clock = CoordinatorClock()
            let endpoints = configuration.coordinatorURLs.isEmpty ? nil : CoordinatorEndpoints(configuration.coordinatorURLs)
            let control = ControlAPI(
                region: region.id, node: configuration.nodeID, store: store, metrics: metrics, bundles: bundles,
                directives: directives, quarantine: quarantine, queue: queue, protocolLog: protocolLog, signer: credentials,
                status: NodeStatusReporter(
                    region: region.id, node: configuration.nodeID, config: config, store: store, spool: spool, queue: queue, smtp: smtp,
                    clock: clock, endpoints: endpoints),
                now: now)
            let retention = MetadataRetention(
                region: region, config: config, store: store, quarantine: quarantine, protocolLog: protocolLog, logger: logger, now: now)
            let watcher = BundleWatcher(file: bundleFile, intake: bundles)
            let ports = NodePorts()
            var services: [any Service] = [
                egress, store, events,
                Application(
                    router: control.probeRouter(),
                    configuration: .init(address: .hostname(configuration.probeHost, port: configuration.probePort ?? 0), serverName: "meridian-node"),
                    onServerRunning: { ports.probe.set($0.localAddress?.port) },
                    logger: logger),
                Application(
                    router: control.router(),
                    server: try .tls(.http1(), tlsConfiguration: credentials.server(clientCertificates: .required)),
                    configuration: .init(address: .hostname(configuration.controlHost, port: controlPort), serverName: "meridian-node"),
                    onServerRunning: { ports.control.set($0.localAddress?.port) },
                    logger: logger),
                queue,
                PeriodicJob("retention", every: configuration.retentionInterval, start: .immediately, logger: logger) {
                    try await retention.runOnce()
                },
                PeriodicJob("bundle file", every: .seconds(1), logger: logger) { watcher.check() },
            ]
            if let endpoints {
                let link = CoordinatorLink(
                    endpoints: endpoints, credentials: credentials, config: config, intake: bundles, clock: clock, metrics: metrics,
                    logger: logger, now: now)
                services.append(
                    PeriodicJob(
                        "coordinator link", every: configuration.pullInterval, start: .immediately, logger: logger,
                        waitingAfterEachPass: { try await link.pass() }))
                let renewal = CertificateRenewal(
                    directory: configuration.identityDirectory, endpoints: endpoints, enrollment: enrollment, credentials: credentials,
                    metrics: metrics, logger: logger, now: Date.init)
                services.append(
                    PeriodicJob("certificate renewal", every: configuration.renewalCheckInterval, start: .immediately, logger: logger) {
                        await renewal.check()
                    })
            }
            services.append(smtp)
            return RegionalNode(
                configuration: configuration, enrollment: enrollment, config: config, spool: spool, store: store, metrics: metrics, queue: queue,
                smtp: smtp, bundles: bundles, directives: directives, webhooks: webhooks, egress: egress, ports: ports, services: services, locks: locks)
        } catch {
            try? await store.close()
            try? await egress.shutdown()
            throw error
        }
    }

    /// The node's enrollment: the one kept in the identity directory, or a new one when the node is given a join
    /// token it has not joined with (its first start, or after an admin enrolled it again).
    static func enrollment(_ configuration: NodeConfiguration, logger: Logger) async throws -> NodeEnrollment {
        let directory = configuration.identityDirectory
        let kept: NodeEnrollment?
        do {
            kept = try NodeEnrollment.load(directory: directory)
        } catch let error as NodeError where configuration.joinToken != nil {
            logger.warning("node: the enrollment kept cannot be used; joining with the token given", metadata: ["error": "\(error.reason)"])
            kept = nil
        }
        let enrollment: NodeEnrollment
        if let token = configuration.joinToken, kept?.joinTokenHash != token.hash {
            guard !configuration.coordinatorURLs.isEmpty else {
                throw NodeError(.notEnrolled, "--join needs --coordinator, the coordinator's node port (https://HOST:8443)")
            }
            // Any replica will do; one that does not answer is passed over, one that is not the coordinator the token
            // pins stops the join.
            enrollment = try await CoordinatorEndpoints(configuration.coordinatorURLs).first { coordinator in
                do {
                    return try await NodeEnrollment.join(token: token, coordinator: coordinator, logger: logger)
                } catch let error as NodeError where error.code != .coordinatorUnavailable {
                    throw CoordinatorEndpoints.Final(error: error)
                }
            }.result
            try enrollment.save(directory: directory)
        } else if let kept {
            enrollment = kept
            if configuration.joinToken != nil {
                logger.info("node: already joined with this token as \(kept.node); --join is not needed any more")
            }
        } else {
            throw NodeError(
                .notEnrolled,
                "this node has not joined a coordinator (no \(directory)/enrollment.json): enroll it there (meridian nodes enroll \(configuration.region.id) NODE-ID --control-url https://HOST:\(configuration.controlPort ?? 9101)) and start it once with --coordinator https://COORDINATOR:8443 --join TOKEN")
        }
        guard enrollment.region == configuration.region.id else {
            throw NodeError(
                .enrollmentUnusable, "this node joined as \(enrollment.node) of region \(enrollment.region), but was started with --region \(configuration.region.id)")
        }
        if enrollment.expiresAt <= Date() {
            logger.error(
                "node: this node's certificate expired at \(ISOTime.string(enrollment.expiresAt)) while it was down; it serves mail with the config it has, but the coordinator refuses it. Enroll it again: meridian nodes revoke \(enrollment.node); meridian nodes enroll \(enrollment.region) \(enrollment.node) --control-url \(enrollment.controlURL); then restart it with --join NEW-TOKEN")
        }
        return enrollment
    }

    /// SPF, DKIM and DMARC with the configured resolver (caching) and Public Suffix List; nil when turned off.
    static func senderAuthentication(_ configuration: NodeConfiguration, metrics: NodeMetrics, logger: Logger) throws -> SenderAuthenticationStep? {
        guard configuration.authenticatesSenders else { return nil }
        let resolver: StubResolver
        if let address = configuration.dnsResolver {
            guard let parsed = StubResolver(parsing: address, caching: true) else {
                throw NodeError(.settingInvalid, "--dns-resolver \(address): expected an IP address with an optional port, such as 127.0.0.1:53")
            }
            resolver = parsed
        } else {
            resolver = .system(caching: true)
        }
        var suffixes = PublicSuffixList(parsing: "")
        if let path = configuration.publicSuffixListPath {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw NodeError(.settingInvalid, "--public-suffix-list \(path) cannot be read (the project ships Regions/public_suffix_list.dat)")
            }
            suffixes = PublicSuffixList(parsing: text)
            guard suffixes.count > 0 else { throw NodeError(.settingInvalid, "--public-suffix-list \(path) holds no rules") }
        } else {
            logger.warning("node: no Public Suffix List; DMARC takes the last two labels of a domain as its organization")
        }
        logger.info("node: authenticating senders (SPF, DKIM, DMARC) with the resolver \(resolver) and \(suffixes.count) public suffix rules")
        return SenderAuthenticationStep(
            authenticator: SenderAuthenticator(dns: resolver, suffixes: suffixes, now: configuration.now), hostname: configuration.smtp.hostname,
            metrics: metrics)
    }

    /// rspamd and clamd as configured; each one missing is a step not run.
    static func contentScanning(_ configuration: NodeConfiguration, metrics: NodeMetrics, logger: Logger) throws -> ContentScanStep {
        let timeout = TimeAmount.nanoseconds(Int64(configuration.scanTimeout.components.seconds) * 1_000_000_000)
        var rspamd: RspamdClient?
        if let url = configuration.rspamdURL {
            guard let client = RspamdClient(url: url, timeout: timeout) else {
                throw NodeError(.settingInvalid, "--rspamd \(url): expected rspamd's http URL, such as http://127.0.0.1:11333")
            }
            rspamd = client
        }
        var clamd: ClamdClient?
        if let address = configuration.clamdAddress {
            guard let client = ClamdClient(address: address, timeout: timeout) else {
                throw NodeError(.settingInvalid, "--clamd \(address): expected HOST:PORT of clamd's TCP socket, such as 127.0.0.1:3310")
            }
            clamd = client
        }
        logger.info("node: spam scanning \(rspamd.map { "with rspamd at \($0)" } ?? "not run (no --rspamd)"); virus scanning \(clamd.map { "with clamd at \($0)" } ?? "not run (no --clamd)")")
        return ContentScanStep(rspamd: rspamd, clamd: clamd, metrics: metrics)
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

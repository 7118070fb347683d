import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import MeridianCore
import MeridianServer
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle

extension Coordinator {
    /// Builds the coordinator from its configuration: Regions, the keys (from the data directory, or given), its
    /// certificate for the node link (a new key, issued by the coordinator CA), and the store, opened from `configuration.database` unless a test gives its own. Nothing runs
    /// until ``application(onFirstAdminToken:onServerRunning:)`` does.
    public static func build(_ configuration: CoordinatorConfiguration, store given: (any SQLStore)? = nil, logger: Logger) async throws -> Coordinator {
        let catalog = try RegionCatalog.load(directory: configuration.regionsDirectory)
        let keys: CoordinatorKeys
        switch configuration.keys {
        case .dataDirectory: keys = try CoordinatorKeys.load(dataDirectory: configuration.dataDirectory, zone: catalog.service.dnsZone)
        case .given(let given): keys = given
        }
        let link = try keys.authority.coordinatorCredentials(hosts: configuration.nodeLink.hostnames, at: Date())
        let store: any SQLStore
        let service: (any Service)?
        if let given {
            (store, service) = (given, nil)
        } else {
            (store, service) = try await openStore(configuration.database, logger: logger)
        }
        // Webhook events to customers go out under the same egress policy as the nodes' deliveries.
        let policy = configuration.egress
        // An endpoint that has not taken the connection within 3 s is unreachable: a test delivery answers a person who
        // waits, and the outbox tries again later anyway.
        var http = HTTPClient.Configuration()
        http.timeout = .init(connect: .seconds(3), read: .seconds(15))
        let egress = try await EgressClient.start(configuration: http, policy: { policy }, logger: logger)
        let metricsToken = try MetricsToken.loadOrCreate(dataDirectory: configuration.dataDirectory)
        return Coordinator(
            configuration: configuration, store: store, storeService: service, catalog: catalog, keys: keys, linkCredentials: link, egress: egress,
            metricsToken: metricsToken, logger: logger)
    }

    /// Opens the configured database. The returned service must run (it is the PostgreSQL pool, or the SQLite
    /// connection it closes at the end) for as long as the store is used.
    public static func openStore(_ location: DatabaseLocation, logger: Logger) async throws -> (store: any SQLStore, service: any Service) {
        switch location {
        case .sqlite(let path):
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            let store = try await SQLiteStore.open(path: path, logger: logger)
            // The database holds personal data: owner-only, also when an older build made it readable to all.
            for file in [path, path + "-wal", path + "-shm"] { try PrivateFile.tighten(file: file) }
            return (store, store)
        case .postgres(let location):
            let store = try PostgresStore(location, logger: logger)
            return (store, store)
        }
    }

    /// The HTTP application, with the coordinator's services in start order: the store first (stopped last), the
    /// config publisher, the jobs, then the server. Before the server accepts requests the schema is migrated,
    /// the demo registry seeded (`meridian up`), the first admin token made (and written to `DATA-DIR/admin-token`,
    /// owner-only; `onFirstAdminToken` gets it with that path, or nil when the file could not be written), and the
    /// state published as a version and pushed to the nodes already known. `onServerRunning` is called once the
    /// server listens.
    public func application(
        onFirstAdminToken: @escaping @Sendable (BearerToken, _ path: String?) async -> Void = { _, _ in },
        onServerRunning: @escaping @Sendable () async -> Void = {}
    ) throws -> Application<RouterResponder<CoordinatorRequestContext>> {
        var app = Application(
            router: try buildRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "meridian"),
            onServerRunning: { _ in await onServerRunning() },
            logger: logger)
        app.addServices(services)
        let bound = boundNodeLinkPort
        app.addServices(try nodeLinkApplication { port in bound.set(port) })
        let store = store
        let registry = registry
        let publisher = publisher
        let logger = logger
        let now = now
        let seed = configuration.seedDemoRegistry
        let dataDirectory = configuration.dataDirectory
        let leadership = leadership
        app.beforeServerStarts {
            try await Migrations.run(on: store, logger: logger)
            if seed, try await registry.subprocessors.isEmpty() {
                for entry in DemoRegistry.entries(at: now()) {
                    try await registry.subprocessors.add(entry, by: .system("seed"))
                }
                logger.info("registry: seeded the demo sub-processors (AWS, Heroku, Crunchy Data, OpenAI), flagged as demo data")
            }
            if let token = try await bootstrapAdminToken() {
                var path: String?
                do {
                    path = try Coordinator.saveAdminToken(token, dataDirectory: dataDirectory)
                } catch {
                    logger.error("could not write the admin token file", metadata: ["error": "\(error)"])
                }
                await onFirstAdminToken(token, path)
            }
            // Which replica leads, before anything is published; the leader publishes the current state as a
            // version before the first pull and pushes it to the nodes already known. A follower leaves both to it.
            leadership.start()
            guard await leadership.attempt() else {
                logger.info("config: replica \(leadership.replica) follows; \(leadership.leader?.replica ?? "no replica") leads")
                return
            }
            do {
                let outcome = try await publisher.publish()
                logger.info("config: version \(outcome.version) in force\(outcome.isNew ? "" : " (unchanged since the last start)")")
                publisher.pushSoon(outcome.version)
            } catch {
                logger.error("config: cannot publish at start; nodes keep their last-known-good", metadata: ["error": "\(error)"])
            }
        }
        return app
    }

    /// Closes what the services close when they end (the SQLite connection), for a coordinator whose
    /// application never ran (a start that failed before it).
    public func close() async {
        try? await (storeService as? SQLiteStore)?.close()
        try? await egress.shutdown()
    }

    /// Every service but the HTTP server, in start order. The jobs that must run once for the whole deployment
    /// run on the leading replica only (``Leadership``); every replica sends the outbox and carries out
    /// data-subject tickets, each item claimed by one (``WorkClaim``).
    var services: [any Service] {
        var services: [any Service] = []
        if let storeService { services.append(storeService) }
        services.append(egress)
        services.append(leadership)
        services.append(bell)
        services.append(publisher)
        let (leadership, jobLogger) = (leadership, logger)
        /// A job whose passes run while this replica leads.
        func singleton(_ name: String, every interval: Duration, _ pass: @escaping @Sendable () async throws -> Void) -> PeriodicJob {
            PeriodicJob(name, every: interval, logger: jobLogger) {
                guard leadership.isLeading else { return }
                try await pass()
            }
        }
        let retention = AccountRetentionJob(customers: customers, requests: dataSubjectRequests, now: now, logger: logger)
        services.append(singleton("account retention", every: configuration.retentionInterval) { _ = try await retention.runOnce() })
        let directives = directives
        services.append(PeriodicJob("gdpr directives", every: configuration.outboxInterval, logger: logger) { _ = try await directives.runOnce() })
        if let directory = configuration.backupDirectory, let retention = Backup.Retention(catalog) {
            let backups = BackupJob(
                database: configuration.database, box: secrets, directory: directory, retention: retention, now: now, logger: logger)
            services.append(singleton("backup", every: configuration.backupInterval) { try await backups.runOnce() })
        }
        let outbox = OutboxJob(
            outbox: registry.outbox, customers: customers, secrets: secrets, smarthost: configuration.smarthost, egress: egress,
            sender: catalog.service.controller.email, hostname: configuration.hostname, replica: leadership.incarnation, now: now, logger: logger)
        services.append(PeriodicJob("outbox", every: configuration.outboxInterval, logger: logger) { try await outbox.runOnce() })
        let resolver = resolver
        let proofs = DomainProofJob(
            customers: customers, lookup: { try await resolver.txt($0) }, recheckAfter: configuration.domainRecheckAfter,
            grace: configuration.domainGrace, service: catalog.service, now: now, logger: logger)
        services.append(singleton("domain proofs", every: configuration.domainCheckInterval) { try await proofs.runOnce() })
        let customers = customers
        services.append(singleton("webhook secret overlaps", every: .seconds(30)) {
            _ = try await customers.expirePreviousSecrets(at: now(), by: .system("webhook secret overlaps"))
        })
        // Each replica signs checkpoints of the shared log into its own data directory, and serves them.
        let checkpoints = auditCheckpoints
        services.append(PeriodicJob("audit checkpoints", every: .seconds(10), logger: logger) { _ = try await checkpoints.runOnce() })
        let publications = PublicationsJob(publications: publications, now: now, logger: logger)
        services.append(singleton("publications", every: configuration.retentionInterval) { _ = try await publications.runOnce() })
        // The coordinator's certificate lives a week; a new key and certificate every day.
        let (authority, credentials, hosts, logger) = (keys.authority, linkCredentials, configuration.nodeLink.hostnames, logger)
        services.append(
            PeriodicJob("node-link certificate", every: .seconds(86_400), logger: logger) { () async throws -> Void in
                let key = P256.Signing.PrivateKey()
                credentials.replace(with: try .init(key: key, certificate: try authority.issueCoordinatorCertificate(key: key, hosts: hosts, at: Date())))
                logger.info("node link: the coordinator's certificate was renewed")
            })
        return services
    }

    /// The node port (``NodeLinkRoutes``): TLS 1.3 with the coordinator's certificate; a client certificate is
    /// checked against the node CA when sent, and required by every route but joining.
    public func nodeLinkApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws
        -> Application<RouterResponder<LinkRequestContext>>
    {
        let router = Hummingbird.Router(context: LinkRequestContext.self)
        router.add(middleware: NodeLinkProblemMiddleware())
        NodeLinkRoutes(
            config: config, nodes: nodes, catalog: catalog, authority: keys.authority, bundleKey: keys.bundleSigning.publicKey,
            regionKeys: RegionKeys(secrets: keys.secrets), refusals: RefusalLog(), now: now
        ).register(on: router)
        return Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: linkCredentials.server(clientCertificates: .optional)),
            configuration: .init(address: .hostname(configuration.nodeLink.host, port: configuration.nodeLink.port), serverName: "meridian-node-link"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// The admin API and health routes, behind the problem and authentication middleware.
    public func buildRouter() throws -> Router<CoordinatorRequestContext> {
        let router = Hummingbird.Router(context: CoordinatorRequestContext.self)
        router.add(middleware: ResponseCounter(counts: responseCounts))
        router.add(middleware: ProblemMiddleware())
        let api = AdminAPI(
            customers: customers, tokens: tokens, grants: grants, audit: audit, store: store, catalog: catalog,
            secrets: secrets, fleet: fleet, config: config, nodes: nodes, authority: keys.authority, legalRequests: legalRequests, registry: registry, publications: publications,
            dataSubjectRequests: dataSubjectRequests, directives: directives, publisher: publisher, leadership: leadership, people: people, invitations: invitations,
            testDelivery: TestDelivery(egress: egress, secrets: secrets, now: now),
            site: site, resolver: resolver,
            egress: configuration.egress, domainGrace: configuration.domainGrace, now: now)
        // Compact JSON: the OpenAPI layer pretty-prints by default, which costs every response time and bytes; the
        // CLI pretty-prints what it shows.
        try api.registerHandlers(
            on: router, configuration: OpenAPIRuntime.Configuration(dateTranscoder: APIDateTranscoder(), jsonEncodingOptions: [.sortedKeys]),
            middlewares: [AuthenticationMiddleware(tokens: tokens, grants: grants, now: now), InputLimitsMiddleware()])
        AccountPage(
            customers: customers, tokens: tokens, audit: audit, grants: grants, registry: registry, site: site, publisher: publisher, catalog: catalog,
            resolver: resolver, sessions: accountSessions, people: people,
            invitations: invitations, fleet: fleet,
            oidc: configuration.oidc.map { OIDCSignIn(settings: $0, redirectURI: configuration.pagesURL + "/account/oidc/callback") }, testDelivery: TestDelivery(egress: egress, secrets: secrets, now: now), egress: configuration.egress,
            passwords: AccountSecrets(bcryptCost: configuration.passwordCost), throttle: signInThrottle, secrets: secrets,
            now: now
        ).register(on: router)
        site.register(on: router)
        let checkpoints = auditCheckpoints
        router.get("/.well-known/audit-checkpoint") { _, _ -> Response in
            guard let newest = checkpoints.newest else { throw Problem.notFound("no audit checkpoint has been signed yet") }
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(string: try newest.jsonLine() + "\n")))
        }
        CoordinatorMetrics(
            token: metricsToken, store: store, config: config, nodes: nodes, canaries: publications.canaries, requests: dataSubjectRequests, responses: responseCounts,
            leadership: leadership, now: now
        ).register(on: router)
        return router
    }
}

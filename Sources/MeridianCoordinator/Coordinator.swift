import Crypto
import Foundation
import Hummingbird
import Logging
import MeridianCore
import OpenAPIHummingbird
import ServiceLifecycle

/// The coordinator's parts, wired together: the store and its repositories, the region catalog, the secret
/// box and the clock. `meridian coordinator`, `meridian up` and the tests all build it the same way.
public struct Coordinator: Sendable {
    public let store: any SQLStore
    public let customers: any CustomerRepository
    public let tokens: any TokenRepository
    public let grants: any AccessGrantRepository
    public let audit: any AuditLog
    public let catalog: RegionCatalog
    public let secrets: SecretBox
    public let now: @Sendable () -> Date
    /// The regional nodes' control APIs, for metadata queries.
    public let fleet: NodeFleet
    /// Config versions, bundles and the nodes' ACKs.
    public let config: ConfigRepository
    /// Government and law-enforcement requests.
    public let legalRequests: LegalRequestRepository
    /// Sub-processors, objections, DPAs and the outbox of notices.
    public let registry: SubProcessorRegistry
    /// The warrant canary and the transparency reports.
    public let publications: Publications
    /// The public pages.
    public let site: PublicSite
    /// GDPR and CCPA data-subject requests.
    public let dataSubjectRequests: DataSubjectRequestRepository
    /// Carries out access, portability and erasure in every region; nil without a signing key.
    public let directives: DirectiveDispatcher?
    /// Compiles, signs and pushes config on every change; nil without a signing key (tests of the API alone).
    public let publisher: ConfigPublisher?
    /// Hex SHA-256 of the node token, which nodes present to pull and report.
    public let nodeTokenHash: String?
    /// Where DNS checks of customers' domains are asked.
    public let resolver: DNSResolver
    let accountSessions: AccountSessions
    let responseCounts = ResponseCounts()

    public init(
        store: any SQLStore, catalog: RegionCatalog, secrets: SecretBox, fleet: NodeFleet = NodeFleet(urls: [], token: nil),
        signingKey: Curve25519.Signing.PrivateKey? = nil, publicationKey: Curve25519.Signing.PrivateKey? = nil, noticeDays: Int = 30,
        nodeToken: String? = nil, resolver: DNSResolver = .system(), logger: Logger = Logger(label: "meridian.coordinator"),
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        let customers = SQLCustomerRepository(store: store)
        let config = ConfigRepository(store: store, secrets: secrets)
        self.config = config
        let legalRequests = LegalRequestRepository(store: store)
        self.legalRequests = legalRequests
        let registry = SubProcessorRegistry(store: store, noticeDays: noticeDays)
        self.registry = registry
        let publications = Publications(store: store, legalRequests: legalRequests, service: catalog.service, key: publicationKey, now: now)
        self.publications = publications
        let dataSubjectRequests = DataSubjectRequestRepository(store: store)
        self.dataSubjectRequests = dataSubjectRequests
        self.directives = signingKey.map { key in
            DirectiveDispatcher(
                requests: dataSubjectRequests, config: config, legalRequests: legalRequests, own: CoordinatorSubjectData(store: store, catalog: catalog),
                catalog: catalog, secrets: secrets, key: key, pusher: NodePusher(token: nodeToken), now: now, logger: logger)
        }
        if let signingKey {
            let publisher = ConfigPublisher(
                customers: customers, subprocessors: registry.subprocessors, objections: registry.objections, config: config,
                compiler: ConfigCompiler(catalog: catalog, secrets: secrets), key: signingKey, pusher: NodePusher(token: nodeToken), logger: logger,
                now: now)
            self.publisher = publisher
            self.customers = PublishingCustomerRepository(base: customers, publisher: publisher)
        } else {
            self.publisher = nil
            self.customers = customers
        }
        self.resolver = resolver
        self.accountSessions = AccountSessions(now: now)
        self.nodeTokenHash = nodeToken.map { BearerToken.hash(of: $0) }
        self.tokens = SQLTokenRepository(store: store)
        self.grants = SQLAccessGrantRepository(store: store)
        self.audit = SQLAuditLog(store: store)
        self.catalog = catalog
        self.secrets = secrets
        self.now = now
        self.fleet = fleet
        self.site = PublicSite(catalog: catalog, registry: registry, publications: publications, config: config, publisher: publisher, now: now)
    }

    /// Opens the configured database. For PostgreSQL the returned service must run (it is the connection
    /// pool) before any query is made.
    public static func openStore(_ location: DatabaseLocation, logger: Logger) async throws -> (store: any SQLStore, service: (any Service)?) {
        switch location {
        case .sqlite(let path):
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            return (try await SQLiteStore.open(path: path, logger: logger), nil)
        case .postgres(let location):
            let store = try PostgresStore(location, logger: logger)
            return (store, store)
        }
    }

    /// The admin API and health routes, behind the problem and authentication middleware.
    public func buildRouter() throws -> Router<CoordinatorRequestContext> {
        let router = Router(context: CoordinatorRequestContext.self)
        router.add(middleware: ResponseCounter(counts: responseCounts))
        router.add(middleware: ProblemMiddleware())
        let api = AdminAPI(
            customers: customers, tokens: tokens, grants: grants, audit: audit, store: store, catalog: catalog,
            secrets: secrets, fleet: fleet, config: config, legalRequests: legalRequests, registry: registry, publications: publications,
            dataSubjectRequests: dataSubjectRequests, directives: directives, publisher: publisher, site: site, resolver: resolver, now: now)
        try api.registerHandlers(on: router, middlewares: [AuthenticationMiddleware(tokens: tokens, grants: grants, now: now)])
        NodeProtocol(config: config, catalog: catalog, tokenHash: nodeTokenHash, now: now).register(on: router)
        AccountPage(
            customers: customers, tokens: tokens, audit: audit, catalog: catalog, resolver: resolver, sessions: accountSessions, now: now
        ).register(on: router)
        site.register(on: router)
        CoordinatorMetrics(
            store: store, config: config, canaries: publications.canaries, requests: dataSubjectRequests, responses: responseCounts, now: now).register(on: router)
        return router
    }

    /// The HTTP application with the coordinator's background jobs, ready to run as a service. Migrations and the
    /// first admin token happen before the server accepts requests.
    /// `onServerRunning` is called once the server listens.
    public func buildApplication(
        _ configuration: CoordinatorConfiguration, storeService: (any Service)?, logger: Logger,
        onFirstAdminToken: @escaping @Sendable (BearerToken) async -> Void,
        onServerRunning: @escaping @Sendable () async -> Void = {}
    ) throws -> Application<RouterResponder<CoordinatorRequestContext>> {
        var app = Application(
            router: try buildRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "meridian"),
            onServerRunning: { _ in await onServerRunning() },
            logger: logger)
        if let storeService { app.addServices(storeService) }
        app.addServices(
            AccountRetentionJob(
                customers: customers, requests: dataSubjectRequests, interval: configuration.retentionInterval, now: now, logger: logger))
        if let directives {
            app.addServices(DirectiveJob(dispatcher: directives, interval: configuration.outboxInterval, logger: logger))
        }
        if let directory = configuration.backupDirectory, let retention = Backup.Retention(catalog) {
            app.addServices(
                BackupJob(
                    database: configuration.database, box: secrets, directory: directory, retention: retention,
                    interval: configuration.backupInterval, now: now, logger: logger))
        }
        app.addServices(
            OutboxJob(
                outbox: registry.outbox, customers: customers, secrets: secrets, smarthost: configuration.smarthost,
                sender: catalog.service.controller.email, hostname: configuration.hostname, interval: configuration.outboxInterval, now: now,
                logger: logger))
        app.addServices(PublicationsJob(publications: publications, interval: configuration.retentionInterval, now: now, logger: logger))
        let registry = self.registry
        let seed = configuration.seedDemoRegistry
        app.beforeServerStarts {
            try await Migrations.run(on: store, logger: logger)
            if seed, try await registry.subprocessors.isEmpty() {
                for entry in DemoRegistry.entries(at: now()) {
                    try await registry.subprocessors.add(entry, by: .system("seed"))
                }
                logger.info("registry: seeded the demo sub-processors (AWS, Heroku, Crunchy Data, OpenAI), flagged as demo data")
            }
            if let token = try await bootstrapAdminToken() {
                await onFirstAdminToken(token)
            }
            if let publisher {
                // The current state as a version before the first pull, then pushed to the nodes already known.
                do {
                    let outcome = try await publisher.publish()
                    logger.info("config: version \(outcome.version) in force\(outcome.isNew ? "" : " (unchanged since the last start)")")
                    Task { await publisher.push(outcome.version) }
                } catch {
                    logger.error("config: cannot publish at start; nodes keep their last-known-good", metadata: ["error": "\(error)"])
                }
            }
        }
        return app
    }

    /// Creates the first admin token when no admin token has ever existed; returns it, or nil if one did.
    public func bootstrapAdminToken() async throws -> BearerToken? {
        guard try await !tokens.anyAdminExists() else { return nil }
        let date = now()
        let secret = BearerToken.generate()
        let record = TokenRecord(
            id: ResourceID.make(prefix: "tok", at: date), name: "first admin", role: .admin, customerID: nil,
            secretHash: secret.hash, createdAt: date, createdBy: "system:bootstrap", expiresAt: nil, revokedAt: nil)
        try await tokens.create(record, by: .system("bootstrap"))
        return secret
    }

    /// Writes the first admin token to `<data dir>/admin-token`, readable by its owner only.
    public static func saveAdminToken(_ token: BearerToken, dataDirectory: String) throws -> String {
        let path = (dataDirectory as NSString).appendingPathComponent("admin-token")
        try PrivateFile.write(Data((token.secret + "\n").utf8), to: path)
        return path
    }
}

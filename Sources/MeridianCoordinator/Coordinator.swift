import Crypto
import Foundation
import Logging
import MeridianCore
import MeridianServer
import ServiceLifecycle

/// The coordinator as ``build(_:store:logger:)`` assembles it from its configuration: the store and its
/// repositories, the region catalog, the keys, the config publisher, the directive dispatcher, the public
/// site and the clock. ``application(onFirstAdminToken:onServerRunning:)`` turns it into the HTTP application
/// with every job; `meridian coordinator`, `meridian up` and the tests all go through both.
public struct Coordinator: Sendable {
    public let configuration: CoordinatorConfiguration
    public let store: any SQLStore
    /// The store as a service (the PostgreSQL pool; SQLite's connection, closed when it ends), when the
    /// coordinator opened it; nil when a test gave its own.
    let storeService: (any Service)?
    public let customers: any CustomerRepository
    public let tokens: any TokenRepository
    public let grants: any AccessGrantRepository
    public let audit: any AuditLog
    public let catalog: RegionCatalog
    public let keys: CoordinatorKeys
    public var secrets: SecretBox { keys.secrets }
    public let now: @Sendable () -> Date
    /// The regional nodes, for metadata queries.
    public let fleet: NodeFleet
    /// Config versions and bundles.
    public let config: ConfigRepository
    /// The nodes: enrollment, certificates, ACKs and NACKs.
    public let nodes: NodeRepository
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
    /// Carries out access, portability and erasure in every region.
    public let directives: DirectiveDispatcher
    /// Compiles, signs and pushes config on every change.
    public let publisher: ConfigPublisher
    /// Which replica leads: the one that publishes, pushes and runs the singleton jobs.
    public let leadership: Leadership
    /// Tells the other replicas of changes (PostgreSQL's LISTEN/NOTIFY).
    let bell: ReplicaBell
    /// The coordinator's side of the node link's mutual TLS: its certificate (renewed daily) and the node CA.
    public let linkCredentials: LinkCredentials
    /// The node port's port once it listens (the configuration may ask for 0, a free one).
    public var nodeLinkPort: Int? { boundNodeLinkPort.port }
    let boundNodeLinkPort = BoundPort()
    /// Signed checkpoints of the audit log's head, kept in the data directory.
    public let auditCheckpoints: AuditCheckpoints
    /// The client of webhook events to customers (``EgressClient``).
    let egress: EgressClient
    /// Where DNS checks of customers' domains are asked.
    public var resolver: DNSResolver { configuration.resolver }
    let logger: Logger
    /// The people of customer accounts: users, invitations, recovery codes.
    public let people: AccountPeople
    let accountSessions: AccountSessions
    let invitations: AccountInvitations
    let signInThrottle: SignInThrottle
    /// What a scrape of `/metrics` must carry (``MetricsToken``).
    public let metricsToken: String
    let responseCounts = ResponseCounts()

    init(
        configuration: CoordinatorConfiguration, store: any SQLStore, storeService: (any Service)?, catalog: RegionCatalog, keys: CoordinatorKeys,
        linkCredentials: LinkCredentials, egress: EgressClient, metricsToken: String, logger: Logger
    ) {
        self.metricsToken = metricsToken
        self.egress = egress
        let now = configuration.now
        self.configuration = configuration
        self.store = store
        self.storeService = storeService
        self.catalog = catalog
        self.keys = keys
        self.now = now
        self.logger = logger
        let secrets = keys.secrets
        let config = ConfigRepository(store: store, secrets: secrets)
        self.config = config
        let nodes = NodeRepository(store: store)
        self.nodes = nodes
        let legalRequests = LegalRequestRepository(store: store)
        self.legalRequests = legalRequests
        let leadership = Leadership(
            replica: configuration.replicaName, store: store, lease: configuration.leaderLease, renewEvery: configuration.leaderLease / 3,
            pollEvery: configuration.leaderLease / 6, sole: store.kind == .sqlite, logger: logger)
        self.leadership = leadership
        let bell = ReplicaBell(replica: leadership.incarnation, store: store, logger: logger)
        self.bell = bell
        let registry = SubProcessorRegistry(store: store, noticeDays: configuration.noticeDays, bell: bell)
        self.registry = registry
        let publications = Publications(
            store: store, legalRequests: legalRequests, service: catalog.service, key: keys.publicationSigning, now: now)
        self.publications = publications
        let dataSubjectRequests = DataSubjectRequestRepository(store: store)
        self.dataSubjectRequests = dataSubjectRequests
        self.linkCredentials = linkCredentials
        let pusher = NodePusher(credentials: linkCredentials)
        var directives = DirectiveDispatcher(
            requests: dataSubjectRequests, nodes: nodes, legalRequests: legalRequests, own: CoordinatorSubjectData(store: store, catalog: catalog),
            catalog: catalog, secrets: secrets, key: keys.bundleSigning, pusher: pusher, authority: keys.authority, now: now, logger: logger)
        directives.replica = leadership.incarnation
        self.directives = directives
        let base = SQLCustomerRepository(store: store, provesReservedTestNames: configuration.provesReservedTestNames)
        let publisher = ConfigPublisher(
            customers: base, subprocessors: registry.subprocessors, objections: registry.objections, config: config, nodes: nodes,
            compiler: ConfigCompiler(catalog: catalog, secrets: secrets, egress: configuration.egress), key: keys.bundleSigning, pusher: pusher,
            authority: keys.authority, debounce: configuration.publishDebounce, isLeading: { leadership.isLeading }, bell: bell, logger: logger, now: now)
        self.publisher = publisher
        // The new leader publishes what changed while no replica led, and pushes to the nodes behind.
        leadership.onChange { leading in if leading { publisher.changedElsewhere() } }
        bell.on(.config) { ids in publisher.changedElsewhere(customers: ids) }
        customers = CoordinatedCustomerRepository(base: base, publisher: publisher, bell: bell)
        people = AccountPeople(store: store)
        accountSessions = AccountSessions(store: store, secrets: secrets, now: now)
        invitations = AccountInvitations(people: people, secrets: secrets, pagesURL: configuration.pagesURL, now: now)
        signInThrottle = SignInThrottle(now: now)
        fleet = NodeFleet(nodes: nodes, pusher: pusher)
        tokens = CachedTokenRepository(base: SQLTokenRepository(store: store), bell: bell)
        grants = SQLAccessGrantRepository(store: store)
        let audit = SQLAuditLog(store: store)
        self.audit = audit
        auditCheckpoints = AuditCheckpoints(
            audit: audit, key: keys.publicationSigning, dataDirectory: configuration.dataDirectory,
            interval: configuration.auditCheckpointInterval, now: now, logger: logger)
        site = PublicSite(catalog: catalog, registry: registry, publications: publications, config: config, publisher: publisher, now: now)
    }

    /// Creates a first admin token when no admin token is active (the first start, or every admin token revoked
    /// or expired: whoever can restart the coordinator and read its data directory can get in again); returns
    /// it, or nil when an admin token is active. It expires after ``CoordinatorConfiguration/firstAdminTokenLifetime``:
    /// the operator replaces it with a named admin token of their own.
    public func bootstrapAdminToken() async throws -> BearerToken? {
        let date = now()
        guard try await !tokens.anyActiveAdmin(at: date) else { return nil }
        let secret = BearerToken.generate()
        let record = TokenRecord(
            id: ResourceID.make(prefix: "tok", at: date), name: "first admin (replace it)", role: .admin, customerID: nil,
            secretHash: secret.hash, createdAt: date, createdBy: "system:bootstrap",
            expiresAt: date.addingTimeInterval(configuration.firstAdminTokenLifetime), revokedAt: nil)
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

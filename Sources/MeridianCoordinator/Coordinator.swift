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

    public init(
        store: any SQLStore, catalog: RegionCatalog, secrets: SecretBox, fleet: NodeFleet = NodeFleet(urls: [], token: nil),
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.store = store
        self.customers = SQLCustomerRepository(store: store)
        self.tokens = SQLTokenRepository(store: store)
        self.grants = SQLAccessGrantRepository(store: store)
        self.audit = SQLAuditLog(store: store)
        self.catalog = catalog
        self.secrets = secrets
        self.now = now
        self.fleet = fleet
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
        router.add(middleware: ProblemMiddleware())
        let api = AdminAPI(
            customers: customers, tokens: tokens, grants: grants, audit: audit, store: store, catalog: catalog,
            secrets: secrets, fleet: fleet, now: now)
        try api.registerHandlers(on: router, middlewares: [AuthenticationMiddleware(tokens: tokens, grants: grants, now: now)])
        return router
    }

    /// The HTTP application with the coordinator's background jobs, ready to run as a service. Migrations and the
    /// first admin token happen before the server accepts requests.
    public func buildApplication(
        _ configuration: CoordinatorConfiguration, storeService: (any Service)?, logger: Logger,
        onFirstAdminToken: @escaping @Sendable (BearerToken) async -> Void
    ) throws -> Application<RouterResponder<CoordinatorRequestContext>> {
        var app = Application(
            router: try buildRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "meridian"),
            logger: logger)
        if let storeService { app.addServices(storeService) }
        app.addServices(AccountRetentionJob(customers: customers, interval: configuration.retentionInterval, now: now, logger: logger))
        app.beforeServerStarts {
            try await Migrations.run(on: store, logger: logger)
            if let token = try await bootstrapAdminToken() {
                await onFirstAdminToken(token)
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

import ArgumentParser
import Crypto
import Foundation
import Hummingbird
import Logging
import MeridianCoordinator
import MeridianSmarthost
import MeridianCore
import ServiceLifecycle

/// `meridian coordinator`: the control plane alone, on SQLite or PostgreSQL.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the coordinator: admin API, registry, config compiler.",
        subcommands: [Serve.self, Migrate.self],
        defaultSubcommand: Serve.self)

    struct Options: ParsableArguments {
        @Option(help: "sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=require].")
        var database = "sqlite:.meridian/coordinator.sqlite"

        @Option(help: "Where the master key and the first admin token are written.")
        var dataDir = ".meridian"

        @Option(help: "The Regions directory.")
        var regions = "Regions"

        func location() throws -> DatabaseLocation {
            do { return try DatabaseLocation(parsing: database) } catch { throw ValidationError(error.description) }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the API (the default).")

        @OptionGroup var options: Options

        @Option(help: "Address to listen on.")
        var host = "127.0.0.1"

        @Option(help: "Port to listen on.")
        var port = 8080

        @Option(help: "A file of node control API URLs, one per line (default: control_url of every node in Regions).")
        var nodeEndpoints: String?

        @Option(help: "File holding the node token (default: DATA-DIR/node-token, created if missing; or set MERIDIAN_NODE_TOKEN).")
        var nodeTokenFile: String?

        @Option(help: "The DNS resolver (IP[:PORT]) that checks customers' MX and TXT records (default: the first nameserver in /etc/resolv.conf).")
        var dnsResolver: String?

        @Option(help: "SMTP relay (host:port) for notices to customers, such as new sub-processors (default: none; they wait in the outbox).")
        var smarthost: String?

        @Option(help: "Days a new sub-processor is announced before it takes effect (GDPR Art. 28(2)).")
        var noticeDays = 30

        @Option(help: "Back the database up into this directory, encrypted with the master key, and delete backups past the backups policy (default: no backups).")
        var backupDir: String?

        @Option(help: "Hours between backups.")
        var backupHours = 24

        func run() async throws {
            var configuration = CoordinatorConfiguration(database: try options.location(), dataDirectory: options.dataDir)
            configuration.host = host
            configuration.port = port
            if let smarthost {
                guard let relay = Smarthost(smarthost) else { throw ValidationError("--smarthost \(smarthost): expected host:port") }
                configuration.smarthost = relay
            }
            guard (1...365).contains(noticeDays) else { throw ValidationError("--notice-days must be from 1 to 365, not \(noticeDays)") }
            configuration.noticeDays = noticeDays
            guard (1...720).contains(backupHours) else { throw ValidationError("--backup-hours must be from 1 to 720, not \(backupHours)") }
            configuration.backupDirectory = backupDir
            configuration.backupInterval = .seconds(backupHours * 3600)
            configuration.regionsDirectory = options.regions
            let dataDir = options.dataDir
            let token = try NodeToken.load(file: nodeTokenFile ?? (dataDir as NSString).appendingPathComponent("node-token"), create: true)
            let urls: [String]
            if let nodeEndpoints {
                do { urls = try NodeFleet.readEndpoints(nodeEndpoints) } catch { throw ValidationError("--node-endpoints: \(error)") }
            } else {
                urls = try loadCatalog(options.regions).regions.flatMap { $0.nodes.map(\.controlURL) }
            }
            let fleet = NodeFleet(urls: urls, token: token.secret)
            configuration.nodeToken = token.secret
            if let dnsResolver {
                do { configuration.resolver = try DNSResolver(parsing: dnsResolver) } catch { throw ValidationError(error.description) }
            }
            try await CoordinatorCommand.serve(configuration, fleet: fleet, logger: makeLogger(label: "meridian.coordinator")) { token in
                let path = (dataDir as NSString).appendingPathComponent("admin-token")
                say("first start: created admin token \(token.secret)")
                say("(also written to \(path); it is not shown again)")
            } onRunning: { _ in
                say("coordinator listening on http://\(host):\(port)")
            }
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply schema migrations and exit.")

        @OptionGroup var options: Options

        func run() async throws {
            let logger = makeLogger(label: "meridian.migrate")
            let (store, service) = try await Coordinator.openStore(try options.location(), logger: logger)
            try await withServiceRunning(service) {
                let applied = try await Migrations.run(on: store, logger: logger)
                print(applied.isEmpty
                    ? "schema is up to date (version \(Migrations.latestVersion))"
                    : "applied migrations \(applied.map(String.init).joined(separator: ", ")); schema is at version \(Migrations.latestVersion)")
            }
        }
    }

    /// Loads Regions, opens the store, and runs the coordinator until SIGINT or SIGTERM.
    static func serve(
        _ configuration: CoordinatorConfiguration, fleet: NodeFleet, logger: Logger, alongside services: [any Service] = [],
        onFirstAdminToken: @escaping @Sendable (BearerToken) async -> Void,
        onRunning: @escaping @Sendable (_ createdToken: Bool) async -> Void
    ) async throws {
        let catalog = try loadCatalog(configuration.regionsDirectory)
        let secrets: SecretBox
        let signingKey: Curve25519.Signing.PrivateKey
        let publicationKey: Curve25519.Signing.PrivateKey
        do {
            secrets = try MasterKey.load(dataDirectory: configuration.dataDirectory)
            // Created on first start, so that its public half (bundle-signing.pub) can be given to the nodes.
            signingKey = try SigningKeyFile.loadOrCreate(dataDirectory: configuration.dataDirectory, secrets: secrets)
            // Signs the canary and frozen transparency reports; published as /.well-known/canary.pub.
            publicationKey = try SigningKeyFile.loadOrCreate(dataDirectory: configuration.dataDirectory, secrets: secrets, name: "publication-signing")
        } catch let error as CoordinatorStartError {
            throw ValidationError(error.description)
        }
        let (store, service) = try await Coordinator.openStore(configuration.database, logger: logger)
        let coordinator = Coordinator(
            store: store, catalog: catalog, secrets: secrets, fleet: fleet, signingKey: signingKey, publicationKey: publicationKey,
            noticeDays: configuration.noticeDays, nodeToken: configuration.nodeToken,
            resolver: configuration.resolver, logger: logger)
        let created = OnceFlag()
        let dataDirectory = configuration.dataDirectory
        // The banner (onRunning) comes once the API listens, so that what it prints works when it is read.
        var app = try coordinator.buildApplication(configuration, storeService: service, logger: logger) { token in
            do {
                _ = try Coordinator.saveAdminToken(token, dataDirectory: dataDirectory)
            } catch {
                logger.error("could not write the admin token file", metadata: ["error": "\(error)"])
            }
            await created.set()
            await onFirstAdminToken(token)
        } onServerRunning: {
            await onRunning(await created.value)
        }
        app.addServices(services)
        // SQLiteNIO insists on an explicit close, also when the server cannot start (its port is taken, say).
        do {
            try await app.runService()
        } catch {
            if let sqlite = store as? SQLiteStore { try? await sqlite.close() }
            throw CoordinatorStartError("the coordinator stopped: \(error) (is something else on \(configuration.host):\(configuration.port)?)")
        }
        if let sqlite = store as? SQLiteStore { try? await sqlite.close() }
    }
}

/// Runs `body` while `service` (a connection pool, say) runs, then stops it.
func withServiceRunning<R: Sendable>(_ service: (any Service)?, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
    guard let service else { return try await body() }
    return try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await service.run()
            return nil
        }
        let result = try await body()
        group.cancelAll()
        return result
    }
}

actor OnceFlag {
    private(set) var value = false
    func set() { value = true }
}

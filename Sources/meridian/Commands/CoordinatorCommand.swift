import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MeridianCoordinator
import MeridianCore
import MeridianServer
import MeridianSmarthost
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

        @Option(help: "Address of the node port, where nodes join, pull and report over mutual TLS (default: --host).")
        var nodeHost: String?

        @Option(help: "The node port.")
        var nodePort = 8443

        @Option(help: "A host name or address nodes reach the node port by, for the coordinator's certificate; repeat for several (default: localhost, 127.0.0.1, ::1 and --node-host).")
        var nodeHostname: [String] = []

        @Option(help: "The DNS resolver (IP[:PORT]) that checks customers' MX and TXT records (default: the first nameserver in /etc/resolv.conf).")
        var dnsResolver: String?

        @Option(help: "SMTP relay (host:port) for notices to customers, such as new sub-processors (default: none; they wait in the outbox).")
        var smarthost: String?

        @Option(help: "Where people reach the coordinator's pages, such as https://meridian.example.com: the base of the links in invitation e-mails (default: http://HOST:PORT).")
        var publicURL: String?

        @Option(help: "An OpenID Connect provider people may sign in to the dashboard with (its issuer URL, https); with --oidc-client-id and --oidc-client-secret-file.")
        var oidcIssuer: String?

        @Option(help: "The client id the provider gave this coordinator.")
        var oidcClientID: String?

        @Option(help: "A file holding the client secret (or set MERIDIAN_OIDC_CLIENT_SECRET); never give it on the command line.")
        var oidcClientSecretFile: String?

        @Option(help: "The provider's name on the sign-in button.")
        var oidcName = "your identity provider"

        @Flag(help: "Let the OpenID Connect provider be plain http (a provider on loopback, for tests).")
        var oidcAllowHttp = false

        @Option(help: "Days a new sub-processor is announced before it takes effect (GDPR Art. 28(2)).")
        var noticeDays = 30

        @Option(help: "Back the database up into this directory, encrypted with the master key, and delete backups past the backups policy (default: no backups).")
        var backupDir: String?

        @Option(help: "Hours between backups.")
        var backupHours = 24

        @Option(help: "Seconds the newest signed audit checkpoint may get while the log grows (also one per 1000 entries).")
        var auditCheckpointSeconds = 300

        @Option(help: "Hours a routed domain's ownership record may be missing before its mail is refused.")
        var domainGraceHours = 72

        @Flag(help: "Accept http:// webhook URLs besides https:// (default: https only).")
        var webhookAllowHttp = false

        @Option(help: "This replica's name among coordinators sharing one PostgreSQL database (default: HOSTNAME:PORT).")
        var replica: String?

        @Option(help: "Seconds the leader's lease lasts without renewal: a replica that leads and dies is replaced within it (1 to 60).")
        var leaderLeaseSeconds = 3

        @Option(help: "A private network (CIDR, such as 10.20.0.0/16) customers' webhooks may reach; repeat for several (default: public addresses only).")
        var webhookAllowNetwork: [String] = []

        func run() async throws {
            var configuration = CoordinatorConfiguration(database: try options.location(), dataDirectory: options.dataDir)
            configuration.host = host
            configuration.port = port
            configuration.regionsDirectory = options.regions
            if let replica {
                guard !replica.isEmpty, replica.count <= 100, replica.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-_:".contains($0)) }) else {
                    throw ValidationError("--replica \(replica): expected 1 to 100 letters, digits, '.', '-', '_' or ':'")
                }
                configuration.replica = replica
            }
            guard (1...60).contains(leaderLeaseSeconds) else { throw ValidationError("--leader-lease-seconds \(leaderLeaseSeconds): expected 1 to 60") }
            configuration.leaderLease = .seconds(leaderLeaseSeconds)
            guard (0...65_535).contains(nodePort) else { throw ValidationError("--node-port \(nodePort) is not a port number (0 to 65535)") }
            configuration.nodeLink.host = nodeHost ?? host
            configuration.nodeLink.port = nodePort
            if !nodeHostname.isEmpty {
                configuration.nodeLink.hostnames = nodeHostname
            } else if !["0.0.0.0", "::", "127.0.0.1", "localhost"].contains(configuration.nodeLink.host) {
                configuration.nodeLink.hostnames.append(configuration.nodeLink.host)
            }
            if let smarthost {
                guard let relay = Smarthost(smarthost) else { throw ValidationError("--smarthost \(smarthost): expected host:port") }
                configuration.smarthost = relay
            }
            if let publicURL {
                guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil, url.query == nil else {
                    throw ValidationError("--public-url \(publicURL): expected an absolute http(s) URL such as https://meridian.example.com")
                }
                configuration.publicURL = publicURL
            }
            if let oidcIssuer {
                guard let clientID = oidcClientID, !clientID.isEmpty else { throw ValidationError("--oidc-issuer needs --oidc-client-id") }
                let secret: String
                if let file = oidcClientSecretFile {
                    guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                        throw ValidationError("--oidc-client-secret-file \(file): cannot read it")
                    }
                    secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
                } else if let text = ProcessInfo.processInfo.environment["MERIDIAN_OIDC_CLIENT_SECRET"] {
                    secret = text
                } else {
                    throw ValidationError("--oidc-issuer needs the client secret: --oidc-client-secret-file PATH or MERIDIAN_OIDC_CLIENT_SECRET")
                }
                guard let url = URL(string: oidcIssuer), url.scheme == "https" || (oidcAllowHttp && url.scheme == "http"), url.host != nil else {
                    throw ValidationError("--oidc-issuer \(oidcIssuer): expected an https URL such as https://accounts.example.com")
                }
                configuration.oidc = OIDCSettings(issuer: oidcIssuer, clientID: clientID, clientSecret: secret, name: oidcName, allowHTTP: oidcAllowHttp)
            }
            guard (1...365).contains(noticeDays) else { throw ValidationError("--notice-days must be from 1 to 365, not \(noticeDays)") }
            configuration.noticeDays = noticeDays
            guard (1...720).contains(backupHours) else { throw ValidationError("--backup-hours must be from 1 to 720, not \(backupHours)") }
            configuration.backupDirectory = backupDir
            configuration.backupInterval = .seconds(backupHours * 3600)
            guard (1...3600).contains(auditCheckpointSeconds) else {
                throw ValidationError("--audit-checkpoint-seconds must be from 1 to 3600, not \(auditCheckpointSeconds)")
            }
            configuration.auditCheckpointInterval = TimeInterval(auditCheckpointSeconds)
            guard (1...720).contains(domainGraceHours) else { throw ValidationError("--domain-grace-hours must be from 1 to 720, not \(domainGraceHours)") }
            configuration.domainGrace = TimeInterval(domainGraceHours * 3600)
            configuration.egress = EgressPolicy(allowHTTP: webhookAllowHttp, allowedNetworks: try webhookAllowNetwork.map { text in
                guard let network = IPNetwork(text) else {
                    throw ValidationError("--webhook-allow-network \(text): expected a network in CIDR notation, such as 10.20.0.0/16 or fd00::/8")
                }
                return network
            })
            if let dnsResolver {
                do { configuration.resolver = try DNSResolver(parsing: dnsResolver) } catch { throw ValidationError(error.description) }
            }
            let logger = makeLogger(label: "meridian.coordinator")
            let coordinator = try await CoordinatorCommand.build(configuration, logger: logger)
            let address = "\(configuration.host):\(configuration.port)"
            let link = configuration.nodeLink
            let lifetimeHours = Int(configuration.firstAdminTokenLifetime / 3600)
            let app = try coordinator.application { token, path in
                say("first start: created admin token \(token.secret)")
                say("(it expires in \(lifetimeHours) hours: create your own with meridian tokens create --role admin --name NAME)")
                say(path.map { "(also written to \($0); it is not shown again)" } ?? "(the admin-token file could not be written; keep the token now)")
            } onServerRunning: {
                say("coordinator listening on http://\(address); node port https://\(link.host):\(link.port) (mutual TLS, names \(link.hostnames.joined(separator: ", ")))")
            }
            try await CoordinatorCommand.run([app], listeningOn: address, logger: logger)
        }
    }

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply schema migrations and exit.",
            discussion: """
                On PostgreSQL, run it as the role that owns the tables and give --service-role the role `meridian \
                coordinator` connects as: that role may then read and write the tables but only read and append to \
                the audit log, so its credentials cannot delete or change an entry or drop the append-only trigger.
                """)

        @OptionGroup var options: Options
        @Option(help: "The PostgreSQL role the coordinator runs as, to give read/write on every table but only SELECT and INSERT on audit_log.")
        var serviceRole: String?

        func run() async throws {
            let logger = makeLogger(label: "meridian.migrate")
            let (store, service) = try await Coordinator.openStore(try options.location(), logger: logger)
            try await withServiceRunning(service) {
                let applied = try await Migrations.run(on: store, logger: logger)
                print(applied.isEmpty
                    ? "schema is up to date (version \(Migrations.latestVersion))"
                    : "applied migrations \(applied.map(String.init).joined(separator: ", ")); schema is at version \(Migrations.latestVersion)")
                if let serviceRole {
                    do {
                        try await Migrations.grant(serviceRole: serviceRole, on: store)
                    } catch let error as CoordinatorError {
                        throw ValidationError(error.description)
                    }
                    print("granted \(serviceRole) read and write on every table, and only SELECT and INSERT on audit_log")
                }
            }
        }
    }

    /// The coordinator from `configuration`; what stops it is said as a CLI error naming the file or flag.
    static func build(_ configuration: CoordinatorConfiguration, logger: Logger) async throws -> Coordinator {
        do {
            return try await Coordinator.build(configuration, logger: logger)
        } catch let error as RegionConfigError {
            throw ValidationError("\(error.description) (set --regions to the Regions directory)")
        } catch let error as CoordinatorError {
            throw ValidationError(error.description)
        }
    }

    /// Runs `services` until SIGINT or SIGTERM, which end them gracefully; a failure names the address, since
    /// the usual one is a port already taken.
    static func run(_ services: [any Service], listeningOn address: String, logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            throw CoordinatorError(.serverNotStarted, "the coordinator stopped: \(error) (is something else on \(address)?)")
        }
    }
}

/// Runs `body` while `service` (a connection pool, say) runs, then stops it.
func withServiceRunning<R: Sendable>(_ service: any Service, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
    try await withThrowingTaskGroup(of: R?.self) { group in
        group.addTask {
            try await service.run()
            return nil
        }
        let result = try await body()
        group.cancelAll()
        return result
    }
}

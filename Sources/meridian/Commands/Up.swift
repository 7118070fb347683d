import ArgumentParser
import Foundation
import Logging
import MeridianCoordinator
import MeridianCore
import MeridianNode
import MeridianServer
import MeridianSmarthost
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// `meridian up`: the whole system on one machine, in the foreground, on embedded SQLite: the coordinator's
/// builder and one node builder per region, run as one group of services.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a coordinator and one node per region on this machine.",
        discussion: """
            The coordinator listens on 127.0.0.1:8080 with its data under --data-dir, and for its nodes on \
            8443; the nodes take SMTP on 2525 (eu), 2526 (us), 2527 (ap), with STARTTLS on a self-signed \
            certificate (DIR/tls), their control APIs (mutual TLS) on 9101 to 9103 and their probe ports on 9111 \
            to 9113. Each node is enrolled and joins the coordinator as meridian node --join does, and its \
            certificate is renewed while it runs. The nodes take their customers from the coordinator: it signs a \
            new config version on every change and pushes it, and they pull at start and every 30 s. The first \
            start creates an admin token and writes it to DIR/admin-token; later starts reuse the data. Ctrl-C \
            stops everything, letting SMTP transactions in flight finish.
            """)

    @Option(help: "Where state is kept (SQLite database, master key, admin token).")
    var dataDir = ".meridian"

    @Option(help: "Added to every port, to run several copies side by side.")
    var portOffset = 0

    @Option(help: "The Regions directory (service.yaml and one YAML file per region).")
    var regions = "Regions"

    @Option(help: "SMTP relay (host:port) through which the nodes send delivery status notifications and the coordinator its notices to customers.")
    var smarthost: String?

    @Option(help: "The DNS resolver, HOST[:PORT], for the coordinator's DNS checks and the nodes' SPF, DKIM and DMARC (default: the first nameserver in /etc/resolv.conf).")
    var dnsResolver: String?

    @Option(help: "rspamd's normal worker for the nodes' spam scanning (default: http://127.0.0.1:11333 when something answers there, else none).")
    var rspamd: String?

    @Option(help: "clamd's TCP socket for the nodes' virus scanning (default: 127.0.0.1:3310 when something answers there, else none).")
    var clamd: String?

    func run() async throws {
        let logger = makeLogger(label: "meridian.up")
        guard (0...50_000).contains(portOffset) else {
            throw ValidationError("--port-offset must be from 0 to 50000, not \(portOffset)")
        }
        var relay: Smarthost?
        if let smarthost {
            guard let parsed = Smarthost(smarthost) else { throw ValidationError("--smarthost \(smarthost): expected host:port") }
            relay = parsed
        }
        let catalog = try loadCatalog(regions)
        var configuration = CoordinatorConfiguration(
            database: .sqlite(path: (dataDir as NSString).appendingPathComponent("coordinator.sqlite")), dataDirectory: dataDir)
        configuration.port = 8080 + portOffset
        configuration.nodeLink.port = 8443 + portOffset
        configuration.regionsDirectory = regions
        configuration.smarthost = relay
        if let dnsResolver {
            do { configuration.resolver = try DNSResolver(parsing: dnsResolver) } catch { throw ValidationError(error.description) }
        }
        configuration.seedDemoRegistry = true
        // The sandbox only: webhooks may be http and on this machine, so the tour's local receiver works.
        configuration.egress = .sandbox
        // And domains under the reserved test names count as proved, so the tour needs no DNS.
        configuration.provesReservedTestNames = true
        // The sandbox's admin token lasts a month; a start after it expired makes a new one.
        configuration.firstAdminTokenLifetime = 30 * 86_400
        let url = "http://127.0.0.1:\(configuration.port)"
        let coordinator = try await CoordinatorCommand.build(configuration, logger: logger)
        let nodes: [RegionalNode]
        do {
            nodes = try await buildNodes(catalog, coordinator: coordinator, relay: relay, logger: logger)
        } catch {
            await coordinator.close()
            throw error
        }
        defer { withExtendedLifetime(nodes) {} }
        let tokenPath = (dataDir as NSString).appendingPathComponent("admin-token")
        let nodeLines = nodes.map { node in
            let config = node.configuration
            return "\(config.region.id)  smtp 127.0.0.1:\(config.smtp.port)  control \(node.enrollment.controlURL)  probe http://127.0.0.1:\(config.probePort ?? 0)  "
                + "config version \(node.config.version) (\(node.config.directory.customerCount) customers)"
        }
        let app = try coordinator.application { _, _ in
            say("meridian up: first start; created an admin token")
        } onServerRunning: { [dataDir] in
            let token = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            say(Up.banner(url: url, token: token ?? "(\(tokenPath) is missing; create one with meridian tokens create)", tokenPath: tokenPath,
                          nodes: nodeLines, dataDir: dataDir))
        }
        // Nodes first, so that the coordinator (last) stops first and the nodes drain after it.
        try await CoordinatorCommand.run(nodes.flatMap(\.services) + [app], listeningOn: "127.0.0.1:\(configuration.port)", logger: logger)
    }

    /// One node per region of the eu/us/ap contract, joined to the coordinator and pulling from it. A node that
    /// has not joined, or whose enrollment the coordinator no longer honours (its certificate expired while `up`
    /// was stopped, or the coordinator's data was reset), is enrolled and joins over the node port, which listens
    /// for that while the nodes are built.
    private func buildNodes(_ catalog: RegionCatalog, coordinator: Coordinator, relay: Smarthost?, logger: Logger) async throws
        -> [RegionalNode]
    {
        let tls = try SelfSignedCertificate.ensure(
            in: (dataDir as NSString).appendingPathComponent("tls"), hostnames: ["localhost"] + catalog.regions.map(\.mxHost))
        // The scanners run beside the nodes when they are installed and started (apt's rspamd and clamav-daemon).
        var rspamdURL = rspamd
        if rspamdURL == nil, await Self.answers(host: "127.0.0.1", port: 11333) { rspamdURL = "http://127.0.0.1:11333" }
        var clamdAddress = clamd
        if clamdAddress == nil, await Self.answers(host: "127.0.0.1", port: 3310) { clamdAddress = "127.0.0.1:3310" }
        say("meridian up: spam scanning \(rspamdURL.map { "with rspamd at \($0)" } ?? "off (no rspamd at 127.0.0.1:11333)"), virus scanning \(clamdAddress.map { "with clamd at \($0)" } ?? "off (no clamd at 127.0.0.1:3310)")")
        var configurations: [NodeConfiguration] = []
        for region in catalog.regions {
            guard let ports = NodeListenAddresses.forUp(region: region.id, portOffset: portOffset) else {
                say("meridian up: region \(region.id) has no local ports (only eu, us and ap do); not started")
                continue
            }
            var node = NodeConfiguration(
                region: region, nodeID: region.nodes[0].id, dataDirectory: (dataDir as NSString).appendingPathComponent("node-\(region.id)"),
                hostname: region.mxHost)
            node.smtp.host = "127.0.0.1"
            node.smtp.port = ports.smtpPort
            node.controlHost = "127.0.0.1"
            node.controlPort = ports.controlPort
            node.probeHost = "127.0.0.1"
            node.probePort = ports.probePort
            node.tlsCertificatePath = tls.certificate
            node.tlsKeyPath = tls.key
            node.smarthost = relay
            node.publicSuffixListPath = (regions as NSString).appendingPathComponent("public_suffix_list.dat")
            node.dnsResolver = dnsResolver
            node.rspamdURL = rspamdURL
            node.clamdAddress = clamdAddress
            node.coordinatorURLs = ["https://127.0.0.1:\(coordinator.configuration.nodeLink.port)"]
            configurations.append(node)
        }
        try await Migrations.run(on: coordinator.store, logger: logger)
        for index in configurations.indices where try await !Self.isJoined(configurations[index], coordinator: coordinator) {
            let node = configurations[index]
            let controlURL = "https://127.0.0.1:\(node.controlPort ?? 0)"
            if try await coordinator.nodes.node(node.nodeID)?.enrollment == .active {
                _ = try await coordinator.nodes.revoke(node.nodeID, by: .system("up"), at: Date())
            }
            configurations[index].joinToken = try await coordinator.nodes.enroll(
                node.nodeID, region: node.region.id, controlURL: controlURL, pinning: coordinator.keys.authority.coordinatorCA.certificate.fingerprint,
                by: .system("up"), at: Date()
            ).token
            say("meridian up: enrolled node \(node.nodeID) (\(node.region.id)); it joins the coordinator now")
        }
        let registry = PrometheusCollectorRegistry()
        let configured = configurations
        let build = { @Sendable () async throws -> [RegionalNode] in
            var nodes: [RegionalNode] = []
            do {
                for node in configured { nodes.append(try await NodeCommand.build(node, registry: registry, logger: logger)) }
                return nodes
            } catch {
                for node in nodes { await node.close() }
                throw error
            }
        }
        guard configurations.contains(where: { $0.joinToken != nil }) else { return try await build() }
        return try await withNodePortListening(coordinator, logger: logger, build)
    }

    /// Whether a node's kept enrollment is one the coordinator honours for a while yet.
    static func isJoined(_ node: NodeConfiguration, coordinator: Coordinator) async throws -> Bool {
        guard let enrollment = try? NodeEnrollment.load(directory: node.identityDirectory), enrollment.node == node.nodeID,
            enrollment.nodeCA == coordinator.keys.authority.nodeCA.certificate, enrollment.expiresAt > Date().addingTimeInterval(3600)
        else { return false }
        return try await coordinator.nodes.isCurrent(node.nodeID, serial: enrollment.certificate.serialHex) != nil
    }

    /// Runs `body` while the coordinator's node port listens (and no longer).
    func withNodePortListening<R: Sendable>(_ coordinator: Coordinator, logger: Logger, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
        let (listening, signal) = AsyncStream<Void>.makeStream()
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: try coordinator.nodeLinkApplication { _ in signal.yield() })], logger: logger))
        return try await withThrowingTaskGroup(of: R?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            defer { tasks.cancelAll() }
            for await _ in listening { break }
            do {
                let result = try await body()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    static func banner(url: String, token: String, tokenPath: String, nodes: [String], dataDir: String) -> String {
        """
        coordinator  \(url)   (admin API under /v1, health at /healthz)
        public pages \(url)/   (privacy, regions, sub-processors, transparency, canary; customers: \(url)/account)
        admin token  \(token)
                     (also in \(tokenPath); the CLI reads it from there)
        nodes        \(nodes.joined(separator: "\n             "))
                     (STARTTLS with the self-signed certificate in \(dataDir)/tls; each node's key and certificate in \(dataDir)/node-REGION/identity)
        stop         Ctrl-C
        """
    }
}

/// Writes a line to standard output at once, unbuffered, so banners show even when output goes to a file.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

extension Up {
    /// Whether something accepts TCP connections at `host:port` within half a second.
    static func answers(host: String, port: Int) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.milliseconds(500))
                .connect(host: host, port: port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}

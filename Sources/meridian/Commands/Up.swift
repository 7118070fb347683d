import ArgumentParser
import Foundation
import Logging
import MeridianCoordinator
import MeridianCore
import MeridianNode
import MeridianSmarthost
import Prometheus
import ServiceLifecycle

/// `meridian up`: the whole system on one machine, in the foreground, on embedded SQLite: the coordinator's
/// builder and one node builder per region, run as one group of services.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a coordinator and one node per region on this machine.",
        discussion: """
            The coordinator listens on 127.0.0.1:8080 with its data under --data-dir; the nodes take SMTP on \
            2525 (eu), 2526 (us), 2527 (ap) and their control APIs on 9101 to 9103, with STARTTLS on a \
            self-signed certificate (DIR/tls). The nodes take their customers from the coordinator: it signs a \
            new config version on every change and pushes it, and they pull at start and every 30 s. The first start creates an admin token and writes it to DIR/admin-token; later starts reuse the \
            data. Ctrl-C stops everything, letting SMTP transactions in flight finish.
            """)

    @Option(help: "Where state is kept (SQLite database, master key, admin token).")
    var dataDir = ".meridian"

    @Option(help: "Added to every port, to run several copies side by side.")
    var portOffset = 0

    @Option(help: "The Regions directory (service.yaml and one YAML file per region).")
    var regions = "Regions"

    @Option(help: "SMTP relay (host:port) through which the nodes send delivery status notifications and the coordinator its notices to customers.")
    var smarthost: String?

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
        configuration.regionsDirectory = regions
        configuration.smarthost = relay
        configuration.seedDemoRegistry = true
        let url = "http://127.0.0.1:\(configuration.port)"
        let coordinator = try await CoordinatorCommand.build(configuration, logger: logger)
        let nodes: [RegionalNode]
        do {
            nodes = try await buildNodes(catalog, coordinator: coordinator, url: url, relay: relay, logger: logger)
        } catch {
            await coordinator.close()
            throw error
        }
        defer { withExtendedLifetime(nodes) {} }
        let tokenPath = (dataDir as NSString).appendingPathComponent("admin-token")
        let nodeLines = nodes.map { node in
            let config = node.configuration
            return "\(config.region.id)  smtp 127.0.0.1:\(config.smtp.port)  control http://127.0.0.1:\(config.controlPort)  "
                + "config version \(node.config.version) (\(node.config.directory.bundle.customers.count) customers)"
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

    /// One node per region of the eu/us/ap contract, trusting the coordinator's bundle-signing key and pulling from it.
    private func buildNodes(_ catalog: RegionCatalog, coordinator: Coordinator, url: String, relay: Smarthost?, logger: Logger) async throws
        -> [RegionalNode]
    {
        let tls = try SelfSignedCertificate.ensure(
            in: (dataDir as NSString).appendingPathComponent("tls"), hostnames: ["localhost"] + catalog.regions.map(\.mxHost))
        let registry = PrometheusCollectorRegistry()
        var nodes: [RegionalNode] = []
        do {
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
                node.tlsCertificatePath = tls.certificate
                node.tlsKeyPath = tls.key
                node.nodeTokenFile = coordinator.configuration.nodeTokenPath
                node.smarthost = relay
                node.trustedKey = coordinator.keys.bundleSigning.publicKey
                node.coordinatorURL = url
                nodes.append(try await NodeCommand.build(node, registry: registry, logger: logger))
            }
            return nodes
        } catch {
            for node in nodes { await node.close() }
            throw error
        }
    }

    static func banner(url: String, token: String, tokenPath: String, nodes: [String], dataDir: String) -> String {
        """
        coordinator  \(url)   (admin API under /v1, health at /healthz)
        public pages \(url)/   (privacy, regions, sub-processors, transparency, canary; customers: \(url)/account)
        admin token  \(token)
                     (also in \(tokenPath); the CLI reads it from there)
        nodes        \(nodes.joined(separator: "\n             "))
                     (STARTTLS with the self-signed certificate in \(dataDir)/tls; node token in \(dataDir)/node-token)
        stop         Ctrl-C
        """
    }
}

/// Writes a line to standard output at once, unbuffered, so banners show even when output goes to a file.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

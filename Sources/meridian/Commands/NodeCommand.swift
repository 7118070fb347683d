import ArgumentParser
import Crypto
import Foundation
import Logging
import MeridianCore
import MeridianNode
import MeridianServer
import MeridianSmarthost
import NIOCore
import Prometheus

/// `meridian node --region eu`: one regional node (SMTP listener, spool, delivery, metadata store, control API).
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a regional mail node: SMTP in, webhooks out, metadata kept in the region.",
        discussion: """
            A node joins a coordinator once: an admin enrolls it (meridian nodes enroll REGION ID --control-url \
            URL) and it starts with --coordinator https://COORDINATOR:8443 --join TOKEN, makes its own key and \
            gets a certificate naming its region and id (kept under DATA-DIR/identity). From then on it takes its \
            customers from bundles the coordinator signs: pushed over mutual TLS to its control API and pulled at \
            start and every --pull-interval; without --coordinator, from a bundle file (--bundle) that must be \
            signed with the same key. Its retention and queue policy come from Regions/<region>.yaml. Queued mail \
            is spooled under --spool and survives a crash; SIGTERM lets transactions in flight finish.
            """)

    @Option(help: "The region this node serves (a file Regions/<id>.yaml).")
    var region: String

    @Option(help: "This node's id as listed under nodes: in the region file, for its default control port (its id comes from its enrollment).")
    var nodeID: String?

    @Option(help: "The Regions directory.")
    var regions = "Regions"

    @Option(help: "Where the metadata store, bundle and enrollment (identity/) live (default: .meridian/node-<region>).")
    var dataDir: String?

    @Option(help: "The spool directory; put it on a disk of its own in production (default: DATA-DIR/spool).")
    var spool: String?

    @Option(help: "The bundle file, signed by the coordinator's key, when the node runs without --coordinator (default: DATA-DIR/bundle.json).")
    var bundle: String?

    @Option(help: "The coordinator's node port, https://HOST:8443: the node joins there, pulls its bundle at start and every --pull-interval, and reports ACK or NACK. Repeat it (or separate with commas) for each coordinator replica: the node goes on to the next when one does not answer.")
    var coordinator: [String] = []

    @Option(help: "The one-time join token from meridian nodes enroll (or set MERIDIAN_JOIN_TOKEN); used only when the node has not joined with it yet.")
    var join: String?

    @Option(help: "Seconds between pulls from the coordinator (pushes arrive at once regardless).")
    var pullInterval = 30

    @Option(help: "Address for SMTP.")
    var smtpHost = "0.0.0.0"

    @Option(help: "Port for SMTP.")
    var smtpPort = 25

    @Option(help: "Address for the control API (mutual TLS: only the coordinator gets in).")
    var controlHost = "127.0.0.1"

    @Option(help: "Port for the control API (default: the port of the control URL the node was enrolled with, else of its control_url in the region file).")
    var controlPort: Int?

    @Option(help: "Address for the probe port: plain HTTP with /healthz, /metrics and /v1/status only (default: --control-host).")
    var probeHost: String?

    @Option(help: "Port for the probe port (default: the control port plus 10).")
    var probePort: Int?

    @Option(help: "The name the node greets with (default: the region's MX host).")
    var hostname: String?

    @Option(help: "PEM certificate (chain) for STARTTLS.")
    var tlsCert: String?

    @Option(help: "PEM private key for STARTTLS.")
    var tlsKey: String?

    @Option(help: "SMTP relay (host:port) for delivery status notifications to senders.")
    var smarthost: String?

    @Option(help: "The analysis service of the content_analysis step (a sub-processor's endpoint). It is called only for customers whose config allows the step, and only if its host is that sub-processor's registered egress host.")
    var analysisURL: String?

    @Option(help: "Seconds a webhook has to answer.")
    var webhookTimeout = 30

    @Option(help: "Seconds of silence after which an SMTP session is closed with 421; also the longest one command line may take, however slowly its bytes arrive.")
    var idleTimeout = 300

    @Option(help: "Bytes per second below which message data (DATA or BDAT) may not arrive, after its first --idle-timeout seconds; a slower client gets 421. 0 turns the floor off.")
    var minDataRate = 500

    @Option(help: "Most SMTP connections open at once.")
    var maxConnections = 2_000

    @Option(help: "on: check SPF, DKIM and DMARC for every message and post the verdicts; off: do not (the payload then has no spf, dkim or dmarc).")
    var senderAuthentication: Switch = .on

    @Option(help: "The recursive DNS resolver sender authentication asks, HOST[:PORT] (default: the first nameserver in /etc/resolv.conf).")
    var dnsResolver: String?

    @Option(help: "The Public Suffix List DMARC finds organizational domains with (default: REGIONS/public_suffix_list.dat, which the project ships).")
    var publicSuffixList: String?

    @Option(help: "rspamd's normal worker, such as http://127.0.0.1:11333, for spam scanning in the region (default: none, the step is not run).")
    var rspamd: String?

    @Option(help: "clamd's TCP socket, HOST:PORT such as 127.0.0.1:3310, for virus scanning in the region (default: none, the step is not run).")
    var clamd: String?

    @Option(help: "Seconds each scanner may take per message; past it the scan counts as failed and the customer's policy decides.")
    var scanTimeout = 15

    @Option(help: "Most SMTP connections open at once from one IP address.")
    var maxConnectionsPerIp = 50

    func run() async throws {
        let logger = makeLogger(label: "meridian.node")
        let configuration = try nodeConfiguration(catalog: try loadCatalog(regions))
        let node = try await NodeCommand.build(configuration, logger: logger)
        say("""
            node \(node.nodeID) (region \(configuration.region.id))
              smtp     \(configuration.smtp.host):\(configuration.smtp.port)\(configuration.tlsCertificatePath == nil ? " (no STARTTLS: pass --tls-cert and --tls-key)" : " with STARTTLS")
              identity \(node.enrollment.certificate.nodeIdentity?.uri ?? node.nodeID), certificate until \(ISOTime.string(node.enrollment.expiresAt))
              control  https://\(node.configuration.controlHost):\(node.configuration.controlPort ?? 0)  (mutual TLS, enrolled as \(node.enrollment.controlURL))
              probe    http://\(node.configuration.probeHost):\(node.configuration.probePort ?? 0)  (/healthz, /metrics, /v1/status)
              spool    \(configuration.spoolDirectory)
              config   \(configuration.coordinatorURLs.isEmpty ? "" : "from the coordinator at \(configuration.coordinatorURLs.joined(separator: " or ")), pulled every \(pullInterval) s; ")bundle file \(configuration.bundlePath) (version \(node.config.version), \(node.config.directory.customerCount) customers)
            """)
        try await node.run(logger: logger)
    }

    /// The node from `configuration`; what stops it is said as a CLI error naming the file or flag.
    static func build(_ configuration: NodeConfiguration, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), logger: Logger) async throws
        -> RegionalNode
    {
        do {
            return try await RegionalNode.build(configuration, registry: registry, logger: logger)
        } catch let error as NodeError {
            throw ValidationError(error.description)
        }
    }

    func nodeConfiguration(catalog: RegionCatalog) throws -> NodeConfiguration {
        guard let id = RegionID(region), let region = catalog.region(id) else {
            throw ValidationError("--region \(region): no such region; known: \(catalog.regionIDs.map(\.rawValue).joined(separator: ", "))")
        }
        let endpoint: Region.NodeEndpoint
        if let nodeID {
            guard let match = region.nodes.first(where: { $0.id == nodeID }) else {
                throw ValidationError("--node-id \(nodeID): not a node of region \(id); known: \(region.nodes.map(\.id).joined(separator: ", "))")
            }
            endpoint = match
        } else {
            endpoint = region.nodes[0]
        }
        let dataDirectory = dataDir ?? ".meridian/node-\(id)"
        var configuration = NodeConfiguration(region: region, nodeID: endpoint.id, dataDirectory: dataDirectory, hostname: hostname ?? region.mxHost)
        if let spool { configuration.spoolDirectory = spool }
        if let bundle { configuration.bundlePath = bundle }
        for (name, port) in [("--smtp-port", smtpPort), ("--control-port", controlPort ?? 9101), ("--probe-port", probePort ?? 9111)]
        where !(0...65_535).contains(port) {
            throw ValidationError("\(name) \(port) is not a port number (0 to 65535)")
        }
        configuration.smtp.host = smtpHost
        configuration.smtp.port = smtpPort
        configuration.controlHost = controlHost
        configuration.controlPort = controlPort ?? (nodeID == nil ? nil : URL(string: endpoint.controlURL)?.port)
        configuration.probeHost = probeHost ?? controlHost
        configuration.probePort = probePort
        switch (tlsCert, tlsKey) {
        case (let cert?, let key?):
            configuration.tlsCertificatePath = cert
            configuration.tlsKeyPath = key
        case (nil, nil): break
        default: throw ValidationError("--tls-cert and --tls-key go together")
        }
        if let analysisURL {
            guard let url = URL(string: analysisURL), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--analysis-url \(analysisURL) is not an http(s) URL")
            }
            configuration.analysisURL = analysisURL
        }
        configuration.authenticatesSenders = senderAuthentication == .on
        configuration.rspamdURL = rspamd
        configuration.clamdAddress = clamd
        guard (1...300).contains(scanTimeout) else { throw ValidationError("--scan-timeout \(scanTimeout): from 1 to 300 seconds") }
        configuration.scanTimeout = .seconds(scanTimeout)
        configuration.dnsResolver = dnsResolver
        configuration.publicSuffixListPath = publicSuffixList ?? (regions as NSString).appendingPathComponent("public_suffix_list.dat")
        if let smarthost {
            guard let parsed = Smarthost(smarthost) else { throw ValidationError("--smarthost \(smarthost): expected host:port") }
            configuration.smarthost = parsed
        }
        guard (1...600).contains(webhookTimeout) else { throw ValidationError("--webhook-timeout \(webhookTimeout): from 1 to 600 seconds") }
        configuration.webhookTimeout = .seconds(webhookTimeout)
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout \(idleTimeout): from 1 to 3600 seconds") }
        guard (0...100_000_000).contains(minDataRate) else {
            throw ValidationError("--min-data-rate \(minDataRate): bytes per second, from 0 (no floor) to 100000000")
        }
        guard maxConnections >= 1, maxConnectionsPerIp >= 1 else { throw ValidationError("connection limits must be at least 1") }
        for coordinator in coordinator.flatMap({ $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }) {
            guard let url = URL(string: coordinator), url.scheme == "https", url.host != nil else {
                throw ValidationError("--coordinator \(coordinator): expected the coordinator's node port, such as https://coordinator.internal:8443")
            }
            guard !configuration.coordinatorURLs.contains(coordinator) else { throw ValidationError("--coordinator \(coordinator): given twice") }
            configuration.coordinatorURLs.append(coordinator)
        }
        if let text = join ?? ProcessInfo.processInfo.environment["MERIDIAN_JOIN_TOKEN"], !text.isEmpty {
            guard let token = JoinToken(text) else {
                throw ValidationError("--join: not a join token (mrj_… as meridian nodes enroll prints it, with its .fingerprint)")
            }
            guard !configuration.coordinatorURLs.isEmpty else { throw ValidationError("--join needs --coordinator, where the node joins") }
            configuration.joinToken = token
        }
        guard (1...86_400).contains(pullInterval) else { throw ValidationError("--pull-interval \(pullInterval): from 1 to 86400 seconds") }
        configuration.pullInterval = .seconds(Int64(pullInterval))
        configuration.smtp.idleTimeout = .seconds(Int64(idleTimeout))
        configuration.smtp.minDataRate = minDataRate
        configuration.smtp.maxConnections = maxConnections
        configuration.smtp.maxConnectionsPerIP = maxConnectionsPerIp
        return configuration
    }
}

func loadCatalog(_ directory: String) throws -> RegionCatalog {
    do {
        return try RegionCatalog.load(directory: directory)
    } catch {
        throw ValidationError("\(error.description) (set --regions to the Regions directory)")
    }
}

/// A setting that is turned `on` or `off`.
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
}

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
            The node takes its customers from signed bundles: pushed by the coordinator (--coordinator, with \
            --trust-key) and pulled at start and every --pull-interval, or from a bundle file (--bundle). Its \
            retention and queue policy come from Regions/<region>.yaml. Queued mail is \
            spooled under --spool and survives a crash; SIGTERM lets transactions in flight finish.
            """)

    @Option(help: "The region this node serves (a file Regions/<id>.yaml).")
    var region: String

    @Option(help: "This node's id, as listed under nodes: in the region file (default: the first one).")
    var nodeID: String?

    @Option(help: "The Regions directory.")
    var regions = "Regions"

    @Option(help: "Where the metadata store, bundle and node token live (default: .meridian/node-<region>).")
    var dataDir: String?

    @Option(help: "The spool directory; put it on a disk of its own in production (default: DATA-DIR/spool).")
    var spool: String?

    @Option(help: "The bundle file: the customers this node serves (default: DATA-DIR/bundle.json).")
    var bundle: String?

    @Option(help: "The coordinator's bundle-signing public key (base64, or a file holding it such as bundle-signing.pub); then only signed bundles are applied.")
    var trustKey: String?

    @Option(help: "The coordinator's URL: the node pulls its bundle from there at start and every --pull-interval, and reports ACK or NACK; needs --trust-key.")
    var coordinator: String?

    @Option(help: "Seconds between pulls from the coordinator (pushes arrive at once regardless).")
    var pullInterval = 30

    @Option(help: "This node's control API URL as the coordinator reaches it, for pushes (default: from --control-host and --control-port).")
    var controlURL: String?

    @Option(help: "Address for SMTP.")
    var smtpHost = "0.0.0.0"

    @Option(help: "Port for SMTP.")
    var smtpPort = 25

    @Option(help: "Address for the control API (health, status, metadata queries, /metrics).")
    var controlHost = "127.0.0.1"

    @Option(help: "Port for the control API (default: the port of this node's control_url in the region file).")
    var controlPort: Int?

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

    @Option(help: "Most SMTP connections open at once from one IP address.")
    var maxConnectionsPerIp = 50

    @Option(help: "File holding the node token the control API accepts (default: DATA-DIR/node-token, created if missing; or set MERIDIAN_NODE_TOKEN).")
    var controlTokenFile: String?

    func run() async throws {
        let logger = makeLogger(label: "meridian.node")
        let configuration = try nodeConfiguration(catalog: try loadCatalog(regions))
        let node = try await NodeCommand.build(configuration, logger: logger)
        say("""
            node \(configuration.nodeID) (region \(configuration.region.id))
              smtp     \(configuration.smtp.host):\(configuration.smtp.port)\(configuration.tlsCertificatePath == nil ? " (no STARTTLS: pass --tls-cert and --tls-key)" : " with STARTTLS")
              control  http://\(configuration.controlHost):\(configuration.controlPort)  (token in \(ProcessInfo.processInfo.environment["MERIDIAN_NODE_TOKEN"] == nil ? configuration.nodeTokenFile : "MERIDIAN_NODE_TOKEN"))
              spool    \(configuration.spoolDirectory)
              config   \(configuration.coordinatorURL.map { "from the coordinator at \($0), pulled every \(pullInterval) s; " } ?? "")bundle file \(configuration.bundlePath) (version \(node.config.version), \(node.config.directory.bundle.customers.count) customers)
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
        } catch let error as NodeTokenError {
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
        if let trustKey { configuration.trustedKey = try Self.publicKey(trustKey) }
        if let bundle { configuration.bundlePath = bundle }
        for (name, port) in [("--smtp-port", smtpPort), ("--control-port", controlPort ?? 9101)] where !(0...65_535).contains(port) {
            throw ValidationError("\(name) \(port) is not a port number (0 to 65535)")
        }
        configuration.smtp.host = smtpHost
        configuration.smtp.port = smtpPort
        configuration.controlHost = controlHost
        configuration.controlPort = controlPort ?? URL(string: endpoint.controlURL)?.port ?? 9101
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
        if let smarthost {
            guard let parsed = Smarthost(smarthost) else { throw ValidationError("--smarthost \(smarthost): expected host:port") }
            configuration.smarthost = parsed
        }
        guard (1...600).contains(webhookTimeout) else { throw ValidationError("--webhook-timeout \(webhookTimeout): from 1 to 600 seconds") }
        configuration.webhookTimeout = .seconds(webhookTimeout)
        if let controlTokenFile { configuration.nodeTokenFile = controlTokenFile }
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout \(idleTimeout): from 1 to 3600 seconds") }
        guard (0...100_000_000).contains(minDataRate) else {
            throw ValidationError("--min-data-rate \(minDataRate): bytes per second, from 0 (no floor) to 100000000")
        }
        guard maxConnections >= 1, maxConnectionsPerIp >= 1 else { throw ValidationError("connection limits must be at least 1") }
        if let coordinator {
            guard let url = URL(string: coordinator), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--coordinator \(coordinator): expected an http(s) URL such as http://coordinator.internal:8080")
            }
            guard trustKey != nil else {
                throw ValidationError("--coordinator needs --trust-key (the coordinator's bundle-signing.pub): a node applies only bundles it can verify")
            }
            configuration.coordinatorURL = coordinator
        }
        guard (1...86_400).contains(pullInterval) else { throw ValidationError("--pull-interval \(pullInterval): from 1 to 86400 seconds") }
        configuration.pullInterval = .seconds(Int64(pullInterval))
        if let controlURL {
            guard let url = URL(string: controlURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ValidationError("--control-url \(controlURL): expected an http(s) URL")
            }
            configuration.controlURL = controlURL.hasSuffix("/") ? String(controlURL.dropLast()) : controlURL
        }
        configuration.smtp.idleTimeout = .seconds(Int64(idleTimeout))
        configuration.smtp.minDataRate = minDataRate
        configuration.smtp.maxConnections = maxConnections
        configuration.smtp.maxConnectionsPerIP = maxConnectionsPerIp
        return configuration
    }
}

extension NodeCommand {
    /// An Ed25519 public key from base64 of its 32 raw bytes, or from a file holding that.
    static func publicKey(_ text: String) throws -> Curve25519.Signing.PublicKey {
        var value = text
        if FileManager.default.fileExists(atPath: text) {
            guard let contents = try? String(contentsOfFile: text, encoding: .utf8) else {
                throw ValidationError("--trust-key \(text): the file cannot be read")
            }
            value = contents.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let bytes = Data(base64Encoded: value), let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else {
            throw ValidationError("--trust-key \(text): expected base64 of a 32-byte Ed25519 public key, or a file holding it")
        }
        return key
    }
}

func loadCatalog(_ directory: String) throws -> RegionCatalog {
    do {
        return try RegionCatalog.load(directory: directory)
    } catch {
        throw ValidationError("\(error.description) (set --regions to the Regions directory)")
    }
}

import Foundation
import Logging
import MeridianCore
import MeridianServer
import ServiceLifecycle

/// One regional node, as ``build(_:registry:logger:)`` assembles it from its configuration: the parts, for the
/// CLI's banner and for tests, and the services that run them.
///
/// Each part takes only what it uses: the SMTP listener hands finished messages to the ``MessageProcessor``,
/// which spools them for the ``DeliveryQueue``; the ``MetadataStore`` keeps the region's records; bundles reach
/// the ``BundleIntake`` from the file, a push or a pull; directives go to the ``DirectiveExecutor``.
public struct RegionalNode: Sendable {
    public let configuration: NodeConfiguration
    /// Who the node is: its region, id, certificate and the coordinator's keys.
    public let enrollment: NodeEnrollment
    public let config: NodeConfigState
    public let spool: Spool
    public let store: MetadataStore
    public let metrics: NodeMetrics
    public let queue: DeliveryQueue
    public let smtp: SMTPServer
    public let bundles: BundleIntake
    public let directives: DirectiveExecutor
    public let webhooks: WebhookClient
    /// The client of every request made for a customer (``EgressClient``), run as the last service.
    public let egress: EgressClient
    /// The control API's and the probe port's ports, once they listen.
    public let ports: NodePorts
    /// In start order. A ServiceGroup stops them in reverse: SMTP first, draining its sessions while the queue and
    /// the store still run; the control API late, answering health checks until the end; the store (which then
    /// closes itself) and the egress client last.
    public let services: [any Service]
    /// Held for the node's life: no second node on the same data or spool directory.
    let locks: [DirectoryLock]

    public var region: Region { configuration.region }
    public var nodeID: String { configuration.nodeID }

    /// Closes what the services close when they end, for a node whose services never ran (a test of its parts, a
    /// start that failed before them).
    public func close() async {
        try? await store.close()
        try? await egress.shutdown()
    }

    /// Runs the node's services until SIGTERM or SIGINT, which end them gracefully.
    public func run(logger: Logger) async throws {
        defer { withExtendedLifetime(locks) {} }
        let group = ServiceGroup(
            configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

import Foundation
import MeridianCore

/// Reads a node's status from the parts that hold it.
struct NodeStatusReporter: Sendable {
    let region: RegionID
    let node: String
    let config: NodeConfigState
    let store: MetadataStore
    let spool: Spool
    let queue: DeliveryQueue
    let smtp: SMTPServer
    let clock: CoordinatorClock
    /// The coordinator's replicas; nil for a node that runs from its bundle file.
    let endpoints: CoordinatorEndpoints?

    func status() async throws -> NodeStatus {
        let counts = try await store.countsByStatus()
        return NodeStatus(
            region: region.rawValue, node: node, configVersion: config.version, customers: config.directory.customerCount,
            smtp: .init(port: smtp.port, openConnections: smtp.openConnections, starttls: smtp.offersTLS),
            queue: .init(spooledRecipients: spool.depth, scheduled: await queue.pending),
            deliveries: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }), clockSkewSeconds: clock.skew,
            coordinator: endpoints?.answered)
    }
}

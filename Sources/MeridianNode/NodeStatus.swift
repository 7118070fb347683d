import Foundation
import MeridianCore

/// What `GET /v1/status` answers: who the node is, its config version, its listener, queue and deliveries.
struct NodeStatus: Encodable {
    var region: String
    var node: String
    var configVersion: Int
    var customers: Int
    var smtp: SMTP
    var queue: Queue
    var deliveries: [String: Int]
    /// This node's clock minus the coordinator's, in seconds; null until the coordinator first answered.
    var clockSkewSeconds: Double?
    /// The coordinator replica (its node port) that last answered this node's pull; null until one has, and for a
    /// node without a coordinator.
    var coordinator: String?

    struct SMTP: Encodable {
        var port: Int?
        var openConnections: Int
        var starttls: Bool

        enum CodingKeys: String, CodingKey {
            case port, starttls
            case openConnections = "open_connections"
        }
    }

    struct Queue: Encodable {
        /// Recipients accepted and not yet finished (delivered or failed for good).
        var spooledRecipients: Int
        /// Deliveries waiting in memory for their next attempt or being attempted.
        var scheduled: Int

        enum CodingKeys: String, CodingKey {
            case scheduled
            case spooledRecipients = "spooled_recipients"
        }
    }

    enum CodingKeys: String, CodingKey {
        case region, node, customers, smtp, queue, deliveries, coordinator
        case configVersion = "config_version"
        case clockSkewSeconds = "clock_skew_seconds"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(region, forKey: .region)
        try container.encode(node, forKey: .node)
        try container.encode(configVersion, forKey: .configVersion)
        try container.encode(customers, forKey: .customers)
        try container.encode(smtp, forKey: .smtp)
        try container.encode(queue, forKey: .queue)
        try container.encode(deliveries, forKey: .deliveries)
        try container.encode(clockSkewSeconds, forKey: .clockSkewSeconds)  // null, not absent, before the first pull
        try container.encode(coordinator, forKey: .coordinator)
    }
}

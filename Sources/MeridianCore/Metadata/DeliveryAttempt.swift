import Foundation

/// One HTTP attempt, the delivery log (kept for the region's `delivery_logs` period).
public struct DeliveryAttempt: Sendable, Codable, Hashable {
    public var at: Date
    public var durationMilliseconds: Int
    /// The HTTP status, or nil when no response came (timeout, refused connection).
    public var statusCode: Int?
    public var outcome: String
    public var detail: String
    /// The config version the attempt was made under: its webhook, redactions and steps. A message accepted
    /// under one version and delivered after a change is delivered under the newer one, and says so here.
    /// Nil for attempts recorded before the node kept it.
    public var configVersion: Int?

    public init(at: Date, durationMilliseconds: Int, statusCode: Int?, outcome: String, detail: String, configVersion: Int? = nil) {
        self.at = at
        self.durationMilliseconds = durationMilliseconds
        self.statusCode = statusCode
        self.outcome = outcome
        self.detail = detail
        self.configVersion = configVersion
    }

    enum CodingKeys: String, CodingKey {
        case at, outcome, detail
        case durationMilliseconds = "duration_ms", statusCode = "status_code", configVersion = "config_version"
    }
}

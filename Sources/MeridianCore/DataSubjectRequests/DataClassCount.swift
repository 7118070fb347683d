import Foundation

/// What one place (a node, or the coordinator itself) found, erased or kept of one class of data.
public struct DataClassCount: Sendable, Hashable, Codable {
    /// `message_metadata`, `delivery_logs`, `spooled_messages` on a node; `account`, `dpas`, ... on the coordinator.
    public var dataClass: String
    public var found: Int
    public var erased: Int
    /// Found and kept under a hold.
    public var held: Int
    /// Why anything was kept; one line per reason.
    public var holdReasons: [String]

    public init(dataClass: String, found: Int = 0, erased: Int = 0, held: Int = 0, holdReasons: [String] = []) {
        self.dataClass = dataClass
        self.found = found
        self.erased = erased
        self.held = held
        self.holdReasons = holdReasons
    }

    enum CodingKeys: String, CodingKey { case dataClass = "data_class", found, erased, held, holdReasons = "hold_reasons" }
}

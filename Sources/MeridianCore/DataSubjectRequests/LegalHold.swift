import Foundation

/// Data that is not erased, and why: it is named in the receipt.
public struct LegalHold: Sendable, Hashable, Codable {
    public var customerID: String
    public var reason: String

    public init(customerID: String, reason: String) {
        self.customerID = customerID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case customerID = "customer_id", reason }
}

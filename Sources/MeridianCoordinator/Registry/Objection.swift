import Foundation
import MeridianCore

/// A customer's objection to a sub-processor (GDPR Art. 28(2)). While it stands, the config compiler leaves the
/// sub-processor's optional steps out of the customer's bundle entries.
public struct Objection: Sendable, Hashable {
    public var id: String
    public var customerID: String
    public var subprocessorID: String
    public var reason: String
    public var createdAt: Date
    public var createdBy: String
    public var withdrawnAt: Date?
}

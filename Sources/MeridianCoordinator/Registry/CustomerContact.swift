import Foundation
import MeridianCore

/// Who a notification goes to.
public struct CustomerContact: Sendable, Hashable {
    public var id: String
    public var name: String
    public var email: String
}

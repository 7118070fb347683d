import Foundation
import MeridianCore

/// The fields of a customer that `PATCH` may change; nil leaves a field as it is.
public struct CustomerChanges: Sendable {
    public var name: String?
    public var contactEmail: String?
    public var domains: [String]?
    public var webhookURL: String?
    public var webhookMode: DeliveryMode?
    public var metadataRedactions: [MetadataField]?

    public init() {}
}

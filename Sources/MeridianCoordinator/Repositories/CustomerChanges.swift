import Foundation
import MeridianCore

/// The fields of a customer that `PATCH` may change; nil leaves a field as it is.
public struct CustomerChanges: Sendable {
    public var name: String?
    public var contactEmail: String?
    public var domains: [String]?
    public var webhookURL: String?
    public var webhookMode: DeliveryMode?
    public var postFormat: PostFormat?
    /// With ``webhookURL``: the webhook's HTTP Basic credentials from now on, sealed, or nil for none.
    public var webhookCredentialsSealed: String?
    public var metadataRedactions: [MetadataField]?
    /// A new events URL; the empty string removes it.
    public var eventsURL: String?

    public init() {}
}

import Foundation
import MeridianCore

/// A customer account as stored. The webhook secret is kept sealed (see ``SecretBox``).
public struct CustomerRecord: Sendable, Hashable {
    public enum Status: String, Sendable { case active, closed }

    public var id: String
    public var name: String
    public var contactEmail: String
    public var region: RegionID?
    public var domains: [CustomerDomain]
    public var webhookURL: String
    public var webhookMode: DeliveryMode
    public var webhookSecretSealed: String
    /// The secret being rotated out, sealed, and when its overlap ends: until then deliveries carry a signature
    /// with each secret.
    public var previousWebhookSecretSealed: String?
    public var previousSecretExpiresAt: Date?
    public var metadataRedactions: [MetadataField]
    /// How the nodes POST this account's mail.
    public var postFormat: PostFormat = .json
    /// HTTP Basic credentials (`user:password`) for the webhook, sealed; nil when its URL had none.
    public var webhookCredentialsSealed: String?
    /// Where delivery and domain events go (``DeliveryEvent``); nil for none.
    public var eventsURL: String?
    /// What the nodes do with this account's spam, viruses and DMARC failures.
    public var filtering: FilteringPolicy = .standard
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date
    public var closedAt: Date?
    public var purgeAfter: Date?

    public init(
        id: String, name: String, contactEmail: String, region: RegionID?, domains: [CustomerDomain], webhookURL: String,
        webhookMode: DeliveryMode, webhookSecretSealed: String, metadataRedactions: [MetadataField], status: Status, createdAt: Date,
        updatedAt: Date, closedAt: Date?, purgeAfter: Date?, previousWebhookSecretSealed: String? = nil, previousSecretExpiresAt: Date? = nil
    ) {
        self.previousWebhookSecretSealed = previousWebhookSecretSealed
        self.previousSecretExpiresAt = previousSecretExpiresAt
        self.id = id
        self.name = name
        self.contactEmail = contactEmail
        self.region = region
        self.domains = domains
        self.webhookURL = webhookURL
        self.webhookMode = webhookMode
        self.webhookSecretSealed = webhookSecretSealed
        self.metadataRedactions = metadataRedactions
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.closedAt = closedAt
        self.purgeAfter = purgeAfter
    }
}

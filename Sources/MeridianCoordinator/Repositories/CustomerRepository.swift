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
    public var metadataRedactions: [MetadataField]
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date
    public var closedAt: Date?
    public var purgeAfter: Date?

    public init(
        id: String, name: String, contactEmail: String, region: RegionID?, domains: [CustomerDomain], webhookURL: String,
        webhookMode: DeliveryMode, webhookSecretSealed: String, metadataRedactions: [MetadataField], status: Status, createdAt: Date,
        updatedAt: Date, closedAt: Date?, purgeAfter: Date?
    ) {
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

public struct CustomerDomain: Sendable, Hashable {
    public var domain: String
    /// The value customers publish at `_meridian.<domain>` to prove ownership.
    public var verificationToken: String

    public init(domain: String, verificationToken: String) {
        self.domain = domain
        self.verificationToken = verificationToken
    }

    /// A newly added domain with a fresh, random ownership-verification token (144 bits).
    public init(newDomain domain: String) {
        var generator = SystemRandomNumberGenerator()
        self.init(domain: domain, verificationToken: Base64URL.encode((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }
}

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

public struct RegionChange: Sendable, Hashable {
    public var from: RegionID?
    public var to: RegionID?
    public var at: Date
    public var actorID: String
    public var actorRole: String
    public var reason: String?
}

/// Customer accounts, their domains and their region history. Every change is audited in its transaction.
public protocol CustomerRepository: Sendable {
    func create(_ customer: CustomerRecord, by actor: AuditActor) async throws
    func find(_ id: String) async throws -> CustomerRecord?
    /// Accounts in id (creation) order after `cursor`, optionally only some ids or one status.
    func list(after cursor: String?, limit: Int, status: CustomerRecord.Status?, only ids: Set<String>?) async throws -> [CustomerRecord]
    func update(_ id: String, _ changes: CustomerChanges, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    func setRegion(_ id: String, to region: RegionID?, reason: String?, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    func regionHistory(_ id: String) async throws -> [RegionChange]
    func close(_ id: String, at: Date, purgeAfter: Date, reason: String?, by actor: AuditActor) async throws -> CustomerRecord
    func reopen(_ id: String, at: Date, by actor: AuditActor) async throws -> CustomerRecord
    /// Every active account with its domains, in id order: what the config compiler reads.
    func allActive() async throws -> [CustomerRecord]
    /// Deletes every closed account whose purge date has passed; returns their ids.
    func purgeClosed(dueBy: Date, by actor: AuditActor) async throws -> [String]
}

import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

/// The admin API: implements the protocol generated from docs/openapi.yaml. Authorization has happened
/// before a handler runs (``AuthenticationMiddleware``); handlers validate input, call the repositories and
/// record reads of customer data in the audit log.
///
/// A class, not a struct: the OpenAPI layer copies its handler for every request, and a struct of two dozen
/// references cost a retain and a release of each.
final class AdminAPI: APIProtocol {
    let customers: any CustomerRepository
    let tokens: any TokenRepository
    let grants: any AccessGrantRepository
    let audit: any AuditLog
    let store: any SQLStore
    let catalog: RegionCatalog
    let secrets: SecretBox
    let fleet: NodeFleet
    let config: ConfigRepository
    let nodes: NodeRepository
    /// The node protocol's certificate authorities, which join tokens pin.
    let authority: NodeAuthority
    let legalRequests: LegalRequestRepository
    let registry: SubProcessorRegistry
    let publications: Publications
    let dataSubjectRequests: DataSubjectRequestRepository
    /// Sends access, portability and erasure directives.
    let directives: DirectiveDispatcher
    let publisher: ConfigPublisher
    /// Which replica leads, for `/v1/nodes`.
    let leadership: Leadership
    /// The people of the dashboard, and their invitations.
    let people: AccountPeople
    let invitations: AccountInvitations
    let testDelivery: TestDelivery
    let site: PublicSite
    let resolver: DNSResolver
    let egress: EgressPolicy
    /// How long a routed domain's ownership record may be missing before the domain is suspended.
    let domainGrace: TimeInterval
    let now: @Sendable () -> Date

    init(
        customers: any CustomerRepository,
        tokens: any TokenRepository,
        grants: any AccessGrantRepository,
        audit: any AuditLog,
        store: any SQLStore,
        catalog: RegionCatalog,
        secrets: SecretBox,
        fleet: NodeFleet,
        config: ConfigRepository,
        nodes: NodeRepository,
        authority: NodeAuthority,
        legalRequests: LegalRequestRepository,
        registry: SubProcessorRegistry,
        publications: Publications,
        dataSubjectRequests: DataSubjectRequestRepository,
        directives: DirectiveDispatcher,
        publisher: ConfigPublisher,
        leadership: Leadership,
        people: AccountPeople,
        invitations: AccountInvitations,
        testDelivery: TestDelivery,
        site: PublicSite,
        resolver: DNSResolver,
        egress: EgressPolicy,
        domainGrace: TimeInterval,
        now: @escaping @Sendable () -> Date
    ) {
        self.customers = customers
        self.tokens = tokens
        self.grants = grants
        self.audit = audit
        self.store = store
        self.catalog = catalog
        self.secrets = secrets
        self.fleet = fleet
        self.config = config
        self.nodes = nodes
        self.authority = authority
        self.legalRequests = legalRequests
        self.registry = registry
        self.publications = publications
        self.dataSubjectRequests = dataSubjectRequests
        self.directives = directives
        self.publisher = publisher
        self.leadership = leadership
        self.people = people
        self.invitations = invitations
        self.testDelivery = testDelivery
        self.site = site
        self.resolver = resolver
        self.egress = egress
        self.domainGrace = domainGrace
        self.now = now
    }

    /// The authenticated caller; the middleware guarantees one for every non-public operation.
    var caller: Caller {
        get throws {
            guard let caller = Caller.current else { throw Problem.unauthorized("send Authorization: Bearer <token>") }
            return caller
        }
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        do {
            try await store.withSession { db in try await db.raw("SELECT 1 AS one").run() }
            return .ok(.init(body: .json(.init(status: .ok, database: .ok))))
        } catch {
            return .serviceUnavailable(.init(body: .json(.init(status: .degraded, database: .unavailable))))
        }
    }

    func getCaller(_ input: Operations.GetCaller.Input) async throws -> Operations.GetCaller.Output {
        let token = try caller.token
        return .ok(.init(body: .json(.init(tokenId: token.id, name: token.name, role: .init(token.role), customerId: token.customerID))))
    }

    /// Loads a customer or throws a 404 naming it.
    func customer(_ id: String) async throws -> CustomerRecord {
        guard let customer = try await customers.find(id) else { throw Problem.notFound("no customer with id \(id)") }
        return customer
    }

    /// Records that the caller read a customer's data.
    func recordRead(_ what: String, of customerID: String, detail: [String: String] = [:]) async throws {
        try await audit.record(AuditEvent(what, target: customerID, detail: detail), by: try caller.actor, at: now())
    }
}

// MARK: - Wire conversions

extension Components.Schemas.Role {
    init(_ role: Role) {
        self = Self(rawValue: role.rawValue) ?? .customer
    }
}

extension Components.Schemas.Customer {
    /// - Parameter grace: how long a routed domain's record may be missing before it is suspended.
    init(_ record: CustomerRecord, grace: TimeInterval) {
        self.init(
            id: record.id, name: record.name, contactEmail: record.contactEmail, region: record.region?.rawValue,
            domains: record.domains.map(\.domain),
            domainProofs: record.domains.map { Components.Schemas.DomainProof($0, grace: grace) },
            webhook: .init(
                url: record.webhookURL, mode: Components.Schemas.DeliveryMode(rawValue: record.webhookMode.rawValue) ?? .sync,
                format: .init(rawValue: record.postFormat.rawValue), basicAuth: record.webhookCredentialsSealed != nil),
            eventsUrl: record.eventsURL,
            metadataRedactions: record.metadataRedactions.compactMap { .init(rawValue: $0.rawValue) },
            status: record.status == .active ? .active : .closed,
            createdAt: record.createdAt, updatedAt: record.updatedAt, closedAt: record.closedAt, purgeAfter: record.purgeAfter,
            previousSecretValidUntil: record.previousSecretExpiresAt, filtering: .init(record.filtering))
    }
}

extension Components.Schemas.FilteringPolicy {
    init(_ policy: FilteringPolicy) {
        self.init(
            spamMode: .init(rawValue: policy.spamMode.rawValue), spamThreshold: policy.spamThreshold,
            virusMode: .init(rawValue: policy.virusMode.rawValue), rejectDmarcFailures: policy.rejectDMARCFailures,
            onScannerFailure: .init(rawValue: policy.onScannerFailure.rawValue))
    }
}

extension Components.Schemas.DomainProof {
    init(_ domain: CustomerDomain, grace: TimeInterval) {
        self.init(
            domain: domain.domain, state: .init(rawValue: domain.state.rawValue) ?? .pending, recordName: "_meridian.\(domain.domain)",
            recordValue: domain.proofRecord, verifiedAt: domain.verifiedAt, verifiedBy: domain.verifiedBy, checkedAt: domain.checkedAt,
            failingSince: domain.failingSince,
            suspendsAt: domain.state == .verified ? domain.failingSince.map { $0.addingTimeInterval(grace) } : nil)
    }
}

extension Components.Schemas.Token {
    init(_ record: TokenRecord) {
        self.init(
            id: record.id, name: record.name, role: .init(record.role), customerId: record.customerID,
            createdAt: record.createdAt, createdBy: record.createdBy, expiresAt: record.expiresAt, revokedAt: record.revokedAt)
    }
}

extension Components.Schemas.AccessGrant {
    init(_ record: AccessGrantRecord, now: Date) {
        self.init(
            id: record.id, customerId: record.customerID, role: .support, reason: record.reason, createdAt: record.createdAt,
            expiresAt: record.expiresAt, revokedAt: record.revokedAt, active: record.isActive(at: now))
    }
}

extension Components.Schemas.AuditEntry {
    init(_ record: AuditRecord) {
        self.init(
            sequence: record.sequence, at: Date(timeIntervalSince1970: Double(record.timestampMillis) / 1000),
            timestampMs: record.timestampMillis, actorId: record.actorID, actorRole: record.actorRole, action: record.action,
            target: record.target, sourceIp: record.sourceIP, detail: .init(additionalProperties: record.detail),
            previousHash: record.previousHash, hash: record.hash)
    }
}

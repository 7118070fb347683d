import Foundation
import MeridianCore

/// A ``CustomerRepository`` that tells the ``ConfigPublisher`` after every change that reaches the bundles,
/// whoever made it (the admin API, the account page, the retention job), so no path can forget to.
struct PublishingCustomerRepository: CustomerRepository {
    let base: any CustomerRepository
    let publisher: ConfigPublisher

    func create(_ customer: CustomerRecord, by actor: AuditActor) async throws {
        try await base.create(customer, by: actor)
        publisher.changed()
    }

    func find(_ id: String) async throws -> CustomerRecord? { try await base.find(id) }

    func list(after cursor: String?, limit: Int, status: CustomerRecord.Status?, only ids: Set<String>?) async throws -> [CustomerRecord] {
        try await base.list(after: cursor, limit: limit, status: status, only: ids)
    }

    func allActive() async throws -> [CustomerRecord] { try await base.allActive() }

    func update(_ id: String, _ changes: CustomerChanges, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { publisher.changed() }
        return try await base.update(id, changes, at: date, by: actor)
    }

    func setRegion(_ id: String, to region: RegionID?, reason: String?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { publisher.changed() }
        return try await base.setRegion(id, to: region, reason: reason, at: date, by: actor)
    }

    func regionHistory(_ id: String) async throws -> [RegionChange] { try await base.regionHistory(id) }

    func close(_ id: String, at date: Date, purgeAfter: Date, reason: String?, by actor: AuditActor) async throws -> CustomerRecord {
        defer { publisher.changed() }
        return try await base.close(id, at: date, purgeAfter: purgeAfter, reason: reason, by: actor)
    }

    func reopen(_ id: String, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { publisher.changed() }
        return try await base.reopen(id, at: date, by: actor)
    }

    func rotateWebhookSecret(_ id: String, to sealed: String, overlapUntil: Date?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { publisher.changed() }
        return try await base.rotateWebhookSecret(id, to: sealed, overlapUntil: overlapUntil, at: date, by: actor)
    }

    func setFiltering(_ id: String, to policy: FilteringPolicy, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { publisher.changed() }
        return try await base.setFiltering(id, to: policy, at: date, by: actor)
    }

    func expirePreviousSecrets(at date: Date, by actor: AuditActor) async throws -> [String] {
        let changed = try await base.expirePreviousSecrets(at: date, by: actor)
        if !changed.isEmpty { publisher.changed() }
        return changed
    }

    func saveDomainProof(
        _ customerID: String, _ domain: CustomerDomain, event: DomainProofCheck.Event?, detail: [String: String], notices: [Notification],
        at date: Date, by actor: AuditActor
    ) async throws -> CustomerRecord {
        // A domain that starts or stops being routed changes the bundles.
        defer { if event == .verified || event == .suspended { publisher.changed() } }
        return try await base.saveDomainProof(customerID, domain, event: event, detail: detail, notices: notices, at: date, by: actor)
    }

    func purgeClosed(dueBy date: Date, by actor: AuditActor) async throws -> [String] {
        try await base.purgeClosed(dueBy: date, by: actor)
    }
}

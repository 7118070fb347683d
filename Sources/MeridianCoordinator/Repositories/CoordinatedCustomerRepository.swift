import Foundation
import MeridianCore

/// The ``CustomerRepository`` every caller of the coordinator uses (the admin API, the account page, the jobs).
/// After every change it tells the ``ConfigPublisher`` when the change reaches the bundles, so no path can forget
/// to, and it answers `find` from a short-lived ``ReadCache`` that each change clears here and, through the
/// ``ReplicaBell``, on every other replica. The publisher itself reads the database, never this cache.
struct CoordinatedCustomerRepository: CustomerRepository {
    let base: any CustomerRepository
    let publisher: ConfigPublisher
    let cache: ReadCache<CustomerRecord>
    let bell: ReplicaBell?

    init(base: any CustomerRepository, publisher: ConfigPublisher, lifetime: Duration = .seconds(10), bell: ReplicaBell? = nil) {
        self.base = base
        self.publisher = publisher
        self.cache = ReadCache(lifetime: lifetime)
        self.bell = bell
        bell?.on(.customers) { [cache] in cache.clear() }
    }

    /// `ids` changed: forgotten here and on the other replicas, and published when the bundles hold it.
    private func changed(_ ids: [String], reachesBundles: Bool = true) {
        guard !ids.isEmpty else { return }
        for id in ids { cache.forget(id) }
        bell?.ring(.customers)
        if reachesBundles { publisher.changed(customers: ids) }
    }

    func create(_ customer: CustomerRecord, by actor: AuditActor) async throws {
        try await base.create(customer, by: actor)
        changed([customer.id])
    }

    func find(_ id: String) async throws -> CustomerRecord? {
        try await cache.value(id) { try await base.find(id) }
    }

    func list(after cursor: String?, limit: Int, status: CustomerRecord.Status?, only ids: Set<String>?) async throws -> [CustomerRecord] {
        try await base.list(after: cursor, limit: limit, status: status, only: ids)
    }

    func allActive() async throws -> [CustomerRecord] { try await base.allActive() }

    func update(_ id: String, _ changes: CustomerChanges, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { changed([id]) }
        return try await base.update(id, changes, at: date, by: actor)
    }

    func setRegion(_ id: String, to region: RegionID?, reason: String?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { changed([id]) }
        return try await base.setRegion(id, to: region, reason: reason, at: date, by: actor)
    }

    func regionHistory(_ id: String) async throws -> [RegionChange] { try await base.regionHistory(id) }

    func close(_ id: String, at date: Date, purgeAfter: Date, reason: String?, by actor: AuditActor) async throws -> CustomerRecord {
        defer { changed([id]) }
        return try await base.close(id, at: date, purgeAfter: purgeAfter, reason: reason, by: actor)
    }

    func reopen(_ id: String, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { changed([id]) }
        return try await base.reopen(id, at: date, by: actor)
    }

    func rotateWebhookSecret(_ id: String, to sealed: String, overlapUntil: Date?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { changed([id]) }
        return try await base.rotateWebhookSecret(id, to: sealed, overlapUntil: overlapUntil, at: date, by: actor)
    }

    func setFiltering(_ id: String, to policy: FilteringPolicy, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        defer { changed([id]) }
        return try await base.setFiltering(id, to: policy, at: date, by: actor)
    }

    func expirePreviousSecrets(at date: Date, by actor: AuditActor) async throws -> [String] {
        let expired = try await base.expirePreviousSecrets(at: date, by: actor)
        changed(expired)
        return expired
    }

    func saveDomainProof(
        _ customerID: String, _ domain: CustomerDomain, event: DomainProofCheck.Event?, detail: [String: String], notices: [Notification],
        at date: Date, by actor: AuditActor
    ) async throws -> CustomerRecord {
        // Every check changes the record; only a domain that starts or stops being routed changes the bundles.
        defer { changed([customerID], reachesBundles: event == .verified || event == .suspended) }
        return try await base.saveDomainProof(customerID, domain, event: event, detail: detail, notices: notices, at: date, by: actor)
    }

    func purgeClosed(dueBy date: Date, by actor: AuditActor) async throws -> [String] {
        let purged = try await base.purgeClosed(dueBy: date, by: actor)
        // A closed account is in no bundle already.
        changed(purged, reachesBundles: false)
        return purged
    }
}

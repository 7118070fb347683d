import Foundation
import MeridianCore
import SQLKit

/// ``CustomerRepository`` in SQL, one code path for PostgreSQL and SQLite.
public struct SQLCustomerRepository: CustomerRepository {
    let store: any SQLStore
    /// `meridian up` only: a domain under a reserved test name (`.test`, `.example`, `.invalid`, `.localhost`) is
    /// proved as it is added, so the tour works without DNS.
    let provesReservedTestNames: Bool

    public init(store: any SQLStore, provesReservedTestNames: Bool = false) {
        self.store = store
        self.provesReservedTestNames = provesReservedTestNames
    }

    public func create(_ customer: CustomerRecord, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO customers (id, name, contact_email, region, webhook_url, webhook_mode, webhook_secret_sealed,
                    post_format, webhook_credentials_sealed, events_url, metadata_redactions, status, created_at, updated_at)
                VALUES (\(bind: customer.id), \(bind: customer.name), \(bind: customer.contactEmail),
                    \(bind: customer.region?.rawValue), \(bind: customer.webhookURL), \(bind: customer.webhookMode.rawValue),
                    \(bind: customer.webhookSecretSealed), \(bind: Self.column(customer.postFormat)), \(bind: customer.webhookCredentialsSealed),
                    \(bind: customer.eventsURL), \(bind: Self.encode(customer.metadataRedactions)),
                    \(bind: customer.status.rawValue), \(bind: Timestamp.millis(customer.createdAt)),
                    \(bind: Timestamp.millis(customer.updatedAt)))
                """).run()
            try await claim(customer.domains, for: customer.id, at: customer.createdAt, on: db)
            if customer.region != nil {
                try await Self.recordRegionChange(customer.id, from: nil, to: customer.region, reason: "set at creation", at: customer.createdAt, by: actor, on: db)
            }
            try await SQLAuditLog.append(
                AuditEvent("customer.create", target: customer.id, detail: [
                    "name": customer.name, "region": customer.region?.rawValue ?? "none",
                    "domains": customer.domains.map(\.domain).joined(separator: ","),
                    "webhook_url": AuditURL.redacted(customer.webhookURL), "webhook_mode": customer.webhookMode.rawValue,
                    "post_format": customer.postFormat.rawValue, "events_url": customer.eventsURL.map(AuditURL.redacted) ?? "none", "webhook_basic_auth": customer.webhookCredentialsSealed == nil ? "none" : "set",
                    "metadata_redactions": Self.encode(customer.metadataRedactions),
                ]), by: actor, at: customer.createdAt, on: db)
        }
    }

    public func find(_ id: String) async throws -> CustomerRecord? {
        try await store.withSession { db in try await Self.load(id, on: db) }
    }

    public func list(after cursor: String?, limit: Int, status: CustomerRecord.Status?, only ids: Set<String>?) async throws -> [CustomerRecord] {
        try await store.withSession { db in
            if let ids, ids.isEmpty { return [] }
            let query = db.select().column("*").from("customers")
                .where("id", .greaterThan, cursor ?? "")
                .orderBy("id").limit(limit)
            if let status { query.where("status", .equal, status.rawValue) }
            if let ids { query.where("id", .in, Array(ids)) }
            let rows = try await query.all()
            var customers: [CustomerRecord] = []
            for row in rows {
                customers.append(try await Self.decode(row, on: db))
            }
            return customers
        }
    }

    /// Two queries whatever the count (the per-row decode would make one per customer).
    public func allActive() async throws -> [CustomerRecord] {
        try await store.withSession { db in
            var domains: [String: [CustomerDomain]] = [:]
            for row in try await db.raw("""
                SELECT d.* FROM customer_domains d
                JOIN customers c ON c.id = d.customer_id WHERE c.status = 'active' ORDER BY d.domain
                """).all() {
                domains[try row.decode(column: "customer_id", as: String.self), default: []].append(try Self.decodeDomain(row))
            }
            return try await db.raw("SELECT * FROM customers WHERE status = 'active' ORDER BY id").all().map { row in
                try Self.decode(row, domains: domains[try row.decode(column: "id", as: String.self)] ?? [])
            }
        }
    }

    public func update(_ id: String, _ changes: CustomerChanges, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        try await store.transaction { db in
            guard var customer = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            var detail: [String: String] = [:]
            if let name = changes.name, name != customer.name { customer.name = name; detail["name"] = name }
            if let email = changes.contactEmail, email != customer.contactEmail { customer.contactEmail = email; detail["contact_email"] = email }
            if let url = changes.webhookURL {
                if url != customer.webhookURL { customer.webhookURL = url; detail["webhook_url"] = AuditURL.redacted(url) }
                if changes.webhookCredentialsSealed != customer.webhookCredentialsSealed {
                    detail["webhook_basic_auth"] = changes.webhookCredentialsSealed == nil ? "removed" : "set"
                }
                customer.webhookCredentialsSealed = changes.webhookCredentialsSealed
            }
            if let format = changes.postFormat, format != customer.postFormat { customer.postFormat = format; detail["post_format"] = format.rawValue }
            if let events = changes.eventsURL, events != (customer.eventsURL ?? "") {
                customer.eventsURL = events.isEmpty ? nil : events
                detail["events_url"] = events.isEmpty ? "none" : AuditURL.redacted(events)
            }
            if let mode = changes.webhookMode, mode != customer.webhookMode { customer.webhookMode = mode; detail["webhook_mode"] = mode.rawValue }
            if let redactions = changes.metadataRedactions, redactions != customer.metadataRedactions {
                customer.metadataRedactions = redactions
                detail["metadata_redactions"] = Self.encode(redactions)
            }
            if let domains = changes.domains {
                let current = Set(customer.domains.map(\.domain))
                let wanted = Set(domains)
                let removed = current.subtracting(wanted).sorted()
                let added = domains.filter { !current.contains($0) }
                for domain in removed {
                    try await db.raw("DELETE FROM customer_domains WHERE domain = \(bind: domain) AND customer_id = \(bind: id)").run()
                }
                let newDomains = added.map(CustomerDomain.init(newDomain:))
                try await claim(newDomains, for: id, at: date, on: db)
                if !removed.isEmpty { detail["domains_removed"] = removed.joined(separator: ",") }
                if !added.isEmpty { detail["domains_added"] = added.joined(separator: ",") }
            }
            guard !detail.isEmpty else { return try await Self.load(id, on: db) ?? customer }
            try await db.raw("""
                UPDATE customers SET name = \(bind: customer.name), contact_email = \(bind: customer.contactEmail),
                    webhook_url = \(bind: customer.webhookURL), webhook_mode = \(bind: customer.webhookMode.rawValue),
                    post_format = \(bind: Self.column(customer.postFormat)), webhook_credentials_sealed = \(bind: customer.webhookCredentialsSealed),
                    events_url = \(bind: customer.eventsURL),
                    metadata_redactions = \(bind: Self.encode(customer.metadataRedactions)), updated_at = \(bind: Timestamp.millis(date))
                WHERE id = \(bind: id)
                """).run()
            try await SQLAuditLog.append(AuditEvent("customer.update", target: id, detail: detail), by: actor, at: date, on: db)
            guard let updated = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            return updated
        }
    }

    public func setRegion(_ id: String, to region: RegionID?, reason: String?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        try await store.transaction { db in
            guard let customer = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            guard customer.region != region else { return customer }
            try await db.raw("""
                UPDATE customers SET region = \(bind: region?.rawValue), updated_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)
                """).run()
            try await Self.recordRegionChange(id, from: customer.region, to: region, reason: reason, at: date, by: actor, on: db)
            var detail = ["from": customer.region?.rawValue ?? "none", "to": region?.rawValue ?? "none"]
            if let reason { detail["reason"] = reason }
            try await SQLAuditLog.append(AuditEvent("customer.region.set", target: id, detail: detail), by: actor, at: date, on: db)
            guard let updated = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            return updated
        }
    }

    public func regionHistory(_ id: String) async throws -> [RegionChange] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM region_changes WHERE customer_id = \(bind: id) ORDER BY id").all().map { row in
                RegionChange(
                    from: try row.decodeNil(column: "from_region") ? nil : RegionID(try row.decode(column: "from_region", as: String.self)),
                    to: try row.decodeNil(column: "to_region") ? nil : RegionID(try row.decode(column: "to_region", as: String.self)),
                    at: Timestamp.date(try row.decode(column: "at", as: Int64.self)),
                    actorID: try row.decode(column: "actor_id", as: String.self),
                    actorRole: try row.decode(column: "actor_role", as: String.self),
                    reason: try row.decode(column: "reason", as: String?.self))
            }
        }
    }

    public func close(_ id: String, at date: Date, purgeAfter: Date, reason: String?, by actor: AuditActor) async throws -> CustomerRecord {
        try await store.transaction { db in
            guard let customer = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            guard customer.status == .active else { throw RepositoryError.conflict("customer \(id) is already closed") }
            try await db.raw("""
                UPDATE customers SET status = 'closed', closed_at = \(bind: Timestamp.millis(date)),
                    purge_after = \(bind: Timestamp.millis(purgeAfter)), updated_at = \(bind: Timestamp.millis(date))
                WHERE id = \(bind: id)
                """).run()
            var detail = ["purge_after": ISO8601DateFormatter().string(from: purgeAfter)]
            if let reason { detail["reason"] = reason }
            try await SQLAuditLog.append(AuditEvent("customer.close", target: id, detail: detail), by: actor, at: date, on: db)
            guard let updated = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            return updated
        }
    }

    public func reopen(_ id: String, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        try await store.transaction { db in
            guard let customer = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            guard customer.status == .closed else { throw RepositoryError.conflict("customer \(id) is not closed") }
            try await db.raw("""
                UPDATE customers SET status = 'active', closed_at = NULL, purge_after = NULL, updated_at = \(bind: Timestamp.millis(date))
                WHERE id = \(bind: id)
                """).run()
            try await SQLAuditLog.append(AuditEvent("customer.reopen", target: id), by: actor, at: date, on: db)
            guard let updated = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            return updated
        }
    }

    public func purgeClosed(dueBy date: Date, by actor: AuditActor) async throws -> [String] {
        try await store.transaction { db in
            let due = try await db.raw("""
                SELECT id FROM customers WHERE status = 'closed' AND purge_after <= \(bind: Timestamp.millis(date)) ORDER BY id
                """).all().map { try $0.decode(column: "id", as: String.self) }
            for id in due {
                // Domains, region history, tokens and grants go with the account (ON DELETE CASCADE).
                try await db.raw("DELETE FROM customers WHERE id = \(bind: id)").run()
                try await SQLAuditLog.append(
                    AuditEvent("customer.purge", target: id, detail: ["reason": "closed-account period ended"]),
                    by: actor, at: date, on: db)
            }
            return due
        }
    }

    // MARK: - Rows

    static func load(_ id: String, on db: any SQLDatabase) async throws -> CustomerRecord? {
        guard let row = try await db.raw("SELECT * FROM customers WHERE id = \(bind: id)").first() else { return nil }
        return try await decode(row, on: db)
    }

    static func decode(_ row: any SQLRow, on db: any SQLDatabase) async throws -> CustomerRecord {
        let id = try row.decode(column: "id", as: String.self)
        let domains = try await db.raw("SELECT * FROM customer_domains WHERE customer_id = \(bind: id) ORDER BY domain").all().map(decodeDomain)
        return try decode(row, domains: domains)
    }

    static func decodeDomain(_ row: any SQLRow) throws -> CustomerDomain {
        CustomerDomain(
            domain: try row.decode(column: "domain", as: String.self),
            verificationToken: try row.decode(column: "verification_token", as: String.self),
            state: CustomerDomain.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .pending,
            verifiedAt: try row.decode(column: "verified_at", as: Int64?.self).map(Timestamp.date),
            verifiedBy: try row.decode(column: "verified_by", as: String?.self),
            checkedAt: try row.decode(column: "checked_at", as: Int64?.self).map(Timestamp.date),
            failingSince: try row.decode(column: "failing_since", as: Int64?.self).map(Timestamp.date))
    }

    /// Stores a domain's proof as a check or an operator left it, with the audit entry of what changed and, for
    /// a proof gone missing or a suspension, the notice to the customer, in one transaction.
    public func saveDomainProof(
        _ customerID: String, _ domain: CustomerDomain, event: DomainProofCheck.Event?, detail: [String: String], notices: [Notification],
        at date: Date, by actor: AuditActor
    ) async throws -> CustomerRecord {
        try await store.transaction { db in
            guard try await db.raw(
                "SELECT domain FROM customer_domains WHERE domain = \(bind: domain.domain) AND customer_id = \(bind: customerID)"
            ).first() != nil else { throw RepositoryError.notFound("\(customerID)/\(domain.domain)") }
            try await db.raw("""
                UPDATE customer_domains SET state = \(bind: domain.state.rawValue), verified_at = \(bind: domain.verifiedAt.map(Timestamp.millis)),
                    verified_by = \(bind: domain.verifiedBy), checked_at = \(bind: domain.checkedAt.map(Timestamp.millis)),
                    failing_since = \(bind: domain.failingSince.map(Timestamp.millis))
                WHERE domain = \(bind: domain.domain) AND customer_id = \(bind: customerID)
                """).run()
            if let event {
                var detail = detail
                detail["domain"] = domain.domain
                detail["state"] = domain.state.rawValue
                try await SQLAuditLog.append(AuditEvent(event.rawValue, target: customerID, detail: detail), by: actor, at: date, on: db)
            }
            for notice in notices { try await NotificationOutbox.insert(notice, on: db) }
            guard let updated = try await Self.load(customerID, on: db) else { throw RepositoryError.notFound(customerID) }
            return updated
        }
    }

    static func decode(_ row: any SQLRow, domains: [CustomerDomain]) throws -> CustomerRecord {
        let id = try row.decode(column: "id", as: String.self)
        let region = try row.decode(column: "region", as: String?.self)
        var record = CustomerRecord(
            id: id,
            name: try row.decode(column: "name", as: String.self),
            contactEmail: try row.decode(column: "contact_email", as: String.self),
            region: region.flatMap(RegionID.init),
            domains: domains,
            webhookURL: try row.decode(column: "webhook_url", as: String.self),
            webhookMode: DeliveryMode(rawValue: try row.decode(column: "webhook_mode", as: String.self)) ?? .sync,
            webhookSecretSealed: try row.decode(column: "webhook_secret_sealed", as: String.self),
            metadataRedactions: Self.decodeRedactions(try row.decode(column: "metadata_redactions", as: String.self)),
            status: CustomerRecord.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .active,
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Timestamp.date(try row.decode(column: "updated_at", as: Int64.self)),
            closedAt: try row.decode(column: "closed_at", as: Int64?.self).map(Timestamp.date),
            purgeAfter: try row.decode(column: "purge_after", as: Int64?.self).map(Timestamp.date),
            previousWebhookSecretSealed: try row.decode(column: "previous_webhook_secret_sealed", as: String?.self),
            previousSecretExpiresAt: try row.decode(column: "previous_secret_expires_at", as: Int64?.self).map(Timestamp.date))
        if let format = try row.decode(column: "post_format", as: String?.self) {
            guard let known = PostFormat(rawValue: format) else {
                throw CoordinatorError(.storeCorrupt, "customer \(id): its POST format \"\(format)\" is not one this meridian knows")
            }
            record.postFormat = known
        }
        record.webhookCredentialsSealed = try row.decode(column: "webhook_credentials_sealed", as: String?.self)
        record.eventsURL = try row.decode(column: "events_url", as: String?.self)
        if let text = try row.decode(column: "filtering", as: String?.self) {
            guard let policy = try? JSONDecoder().decode(FilteringPolicy.self, from: Data(text.utf8)) else {
                throw CoordinatorError(.storeCorrupt, "customer \(id): its filtering policy in the store does not decode")
            }
            record.filtering = policy
        }
        return record
    }

    /// The stored POST format: NULL for the default, CloudMailin's JSON.
    static func column(_ format: PostFormat) -> String? { format == .json ? nil : format.rawValue }

    /// Replaces the account's filtering policy; audited with the new policy (it holds nothing secret).
    public func setFiltering(_ id: String, to policy: FilteringPolicy, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        try await store.transaction { db in
            guard try await Self.load(id, on: db) != nil else { throw RepositoryError.notFound(id) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            let text = policy == .standard ? nil : String(decoding: try encoder.encode(policy), as: UTF8.self)
            try await db.raw("UPDATE customers SET filtering = \(bind: text), updated_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)").run()
            try await SQLAuditLog.append(
                AuditEvent("customer.filtering.update", target: id, detail: [
                    "spam_mode": policy.spamMode.rawValue, "spam_threshold": "\(policy.spamThreshold)", "virus_mode": policy.virusMode.rawValue,
                    "reject_dmarc_failures": "\(policy.rejectDMARCFailures)", "on_scanner_failure": policy.onScannerFailure.rawValue,
                ]), by: actor, at: date, on: db)
            guard let updated = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            return updated
        }
    }

    /// Replaces the webhook secret with `sealed`; with `overlapUntil`, the old one stays as the previous secret
    /// until then (deliveries are signed with both), else it is dropped at once. Audited without either secret.
    public func rotateWebhookSecret(_ id: String, to sealed: String, overlapUntil: Date?, at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        try await store.transaction { db in
            guard let customer = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            try await db.raw("""
                UPDATE customers SET webhook_secret_sealed = \(bind: sealed),
                    previous_webhook_secret_sealed = \(bind: overlapUntil == nil ? nil : customer.webhookSecretSealed),
                    previous_secret_expires_at = \(bind: overlapUntil.map(Timestamp.millis)), updated_at = \(bind: Timestamp.millis(date))
                WHERE id = \(bind: id)
                """).run()
            let detail = overlapUntil.map { ["previous_valid_until": ISOTime.string($0)] } ?? ["previous_valid_until": "none"]
            try await SQLAuditLog.append(AuditEvent("customer.webhook_secret.rotate", target: id, detail: detail), by: actor, at: date, on: db)
            guard let updated = try await Self.load(id, on: db) else { throw RepositoryError.notFound(id) }
            return updated
        }
    }

    /// Drops every previous webhook secret whose overlap has ended by `date`; returns the accounts changed.
    public func expirePreviousSecrets(at date: Date, by actor: AuditActor) async throws -> [String] {
        try await store.transaction { db in
            let ids = try await db.raw("""
                SELECT id FROM customers WHERE previous_secret_expires_at IS NOT NULL AND previous_secret_expires_at <= \(bind: Timestamp.millis(date))
                ORDER BY id
                """).all().map { try $0.decode(column: "id", as: String.self) }
            for id in ids {
                try await db.raw("""
                    UPDATE customers SET previous_webhook_secret_sealed = NULL, previous_secret_expires_at = NULL WHERE id = \(bind: id)
                    """).run()
                try await SQLAuditLog.append(AuditEvent("customer.webhook_secret.previous_expired", target: id), by: actor, at: date, on: db)
            }
            return ids
        }
    }

    /// Inserts domain rows, pending (or proved, for a reserved test name where ``provesReservedTestNames``); a
    /// domain another customer holds is a ``RepositoryError/domainTaken(_:)``.
    func claim(_ domains: [CustomerDomain], for id: String, at date: Date, on db: any SQLDatabase) async throws {
        for var entry in domains {
            if let owner = try await db.raw("SELECT customer_id FROM customer_domains WHERE domain = \(bind: entry.domain)").first() {
                let ownerID = try owner.decode(column: "customer_id", as: String.self)
                if ownerID != id { throw RepositoryError.domainTaken(entry.domain) }
                continue
            }
            if provesReservedTestNames, CustomerDomain.isReservedTestName(entry.domain) {
                (entry.state, entry.verifiedBy, entry.verifiedAt) = (.verified, "sandbox", date)
            }
            try await db.raw("""
                INSERT INTO customer_domains (domain, customer_id, verification_token, added_at, state, verified_at, verified_by)
                VALUES (\(bind: entry.domain), \(bind: id), \(bind: entry.verificationToken), \(bind: Timestamp.millis(date)),
                    \(bind: entry.state.rawValue), \(bind: entry.verifiedAt.map(Timestamp.millis)), \(bind: entry.verifiedBy))
                """).run()
        }
    }

    static func recordRegionChange(
        _ id: String, from: RegionID?, to: RegionID?, reason: String?, at date: Date, by actor: AuditActor, on db: any SQLDatabase
    ) async throws {
        try await db.raw("""
            INSERT INTO region_changes (customer_id, from_region, to_region, at, actor_id, actor_role, reason)
            VALUES (\(bind: id), \(bind: from?.rawValue), \(bind: to?.rawValue), \(bind: Timestamp.millis(date)),
                \(bind: actor.id), \(bind: actor.role), \(bind: reason))
            """).run()
    }

    static func encode(_ fields: [MetadataField]) -> String { fields.map(\.rawValue).joined(separator: ",") }

    static func decodeRedactions(_ text: String) -> [MetadataField] {
        text.split(separator: ",").compactMap { MetadataField(rawValue: String($0)) }
    }
}

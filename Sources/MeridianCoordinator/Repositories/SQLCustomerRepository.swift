import Foundation
import MeridianCore
import SQLKit

/// ``CustomerRepository`` in SQL, one code path for PostgreSQL and SQLite.
public struct SQLCustomerRepository: CustomerRepository {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func create(_ customer: CustomerRecord, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO customers (id, name, contact_email, region, webhook_url, webhook_mode, webhook_secret_sealed,
                    metadata_redactions, status, created_at, updated_at)
                VALUES (\(bind: customer.id), \(bind: customer.name), \(bind: customer.contactEmail),
                    \(bind: customer.region?.rawValue), \(bind: customer.webhookURL), \(bind: customer.webhookMode.rawValue),
                    \(bind: customer.webhookSecretSealed), \(bind: Self.encode(customer.metadataRedactions)),
                    \(bind: customer.status.rawValue), \(bind: Timestamp.millis(customer.createdAt)),
                    \(bind: Timestamp.millis(customer.updatedAt)))
                """).run()
            try await Self.claim(customer.domains, for: customer.id, at: customer.createdAt, on: db)
            if customer.region != nil {
                try await Self.recordRegionChange(customer.id, from: nil, to: customer.region, reason: "set at creation", at: customer.createdAt, by: actor, on: db)
            }
            try await SQLAuditLog.append(
                AuditEvent("customer.create", target: customer.id, detail: [
                    "name": customer.name, "region": customer.region?.rawValue ?? "none",
                    "domains": customer.domains.map(\.domain).joined(separator: ","),
                    "webhook_url": AuditURL.redacted(customer.webhookURL), "webhook_mode": customer.webhookMode.rawValue,
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
                SELECT d.customer_id, d.domain, d.verification_token FROM customer_domains d
                JOIN customers c ON c.id = d.customer_id WHERE c.status = 'active' ORDER BY d.domain
                """).all() {
                domains[try row.decode(column: "customer_id", as: String.self), default: []].append(
                    CustomerDomain(
                        domain: try row.decode(column: "domain", as: String.self),
                        verificationToken: try row.decode(column: "verification_token", as: String.self)))
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
            if let url = changes.webhookURL, url != customer.webhookURL { customer.webhookURL = url; detail["webhook_url"] = AuditURL.redacted(url) }
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
                try await Self.claim(newDomains, for: id, at: date, on: db)
                if !removed.isEmpty { detail["domains_removed"] = removed.joined(separator: ",") }
                if !added.isEmpty { detail["domains_added"] = added.joined(separator: ",") }
            }
            guard !detail.isEmpty else { return try await Self.load(id, on: db) ?? customer }
            try await db.raw("""
                UPDATE customers SET name = \(bind: customer.name), contact_email = \(bind: customer.contactEmail),
                    webhook_url = \(bind: customer.webhookURL), webhook_mode = \(bind: customer.webhookMode.rawValue),
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
        let domains = try await db.raw("SELECT domain, verification_token FROM customer_domains WHERE customer_id = \(bind: id) ORDER BY domain")
            .all().map {
                CustomerDomain(
                    domain: try $0.decode(column: "domain", as: String.self),
                    verificationToken: try $0.decode(column: "verification_token", as: String.self))
            }
        return try decode(row, domains: domains)
    }

    static func decode(_ row: any SQLRow, domains: [CustomerDomain]) throws -> CustomerRecord {
        let id = try row.decode(column: "id", as: String.self)
        let region = try row.decode(column: "region", as: String?.self)
        return CustomerRecord(
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
            purgeAfter: try row.decode(column: "purge_after", as: Int64?.self).map(Timestamp.date))
    }

    /// Inserts domain rows; a domain another customer holds is a ``RepositoryError/domainTaken(_:)``.
    static func claim(_ domains: [CustomerDomain], for id: String, at date: Date, on db: any SQLDatabase) async throws {
        for entry in domains {
            if let owner = try await db.raw("SELECT customer_id FROM customer_domains WHERE domain = \(bind: entry.domain)").first() {
                let ownerID = try owner.decode(column: "customer_id", as: String.self)
                if ownerID != id { throw RepositoryError.domainTaken(entry.domain) }
                continue
            }
            try await db.raw("""
                INSERT INTO customer_domains (domain, customer_id, verification_token, added_at)
                VALUES (\(bind: entry.domain), \(bind: id), \(bind: entry.verificationToken), \(bind: Timestamp.millis(date)))
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

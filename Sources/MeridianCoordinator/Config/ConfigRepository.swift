import Foundation
import MeridianCore
import SQLKit

/// Config versions and the latest bundle of each region, in SQL (the nodes and their answers: `NodeRepository`).
///
/// A bundle holds its customers' webhook secrets (signed, not encrypted), so the stored copy is sealed with the
/// master key like every other secret at rest.
public struct ConfigRepository: Sendable {
    let store: any SQLStore
    let secrets: SecretBox

    public init(store: any SQLStore, secrets: SecretBox) {
        self.store = store
        self.secrets = secrets
    }

    /// The newest version and its content digest (SHA-256 of the bundles with their version left out).
    public func latest() async throws -> (version: Int, digest: String, createdAt: Date)? {
        try await store.withSession { db in
            guard let row = try await db.raw("SELECT version, digest, created_at FROM config_versions ORDER BY version DESC LIMIT 1").first()
            else { return nil }
            return (
                Int(try row.decode(column: "version", as: Int64.self)), try row.decode(column: "digest", as: String.self),
                Timestamp.date(try row.decode(column: "created_at", as: Int64.self))
            )
        }
    }

    /// Stores a new version with its bundles, numbered one above the newest; `sign` makes the bundles for
    /// that number. Signing and sealing happen before the transaction, so that writers are not held up by
    /// them; the transaction (advisory lock on PostgreSQL, the single writer on SQLite) stores the version only
    /// if it is still the next one, and otherwise the whole is done again for the new next number, so versions
    /// only grow. Returns the version and its bundles.
    public func publish(
        digest: String, customers: Int, at date: Date, audit actor: AuditActor,
        sign: @escaping @Sendable (Int) throws -> [PublishedBundle]
    ) async throws -> (version: Int, bundles: [PublishedBundle]) {
        while true {
            let version = (try await latest()?.version ?? 0) + 1
            let bundles = try sign(version)
            let sealed = try bundles.map { try secrets.seal(String(decoding: $0.signed, as: UTF8.self)) }
            let stored = try await store.transaction { db in
                if db.dialect.name == "postgresql" {
                    try await db.raw("SELECT pg_advisory_xact_lock(7291003)").run()
                }
                let newest = try await db.raw("SELECT MAX(version) AS newest FROM config_versions").first()?
                    .decode(column: "newest", as: Int64?.self) ?? 0
                // Another replica published meanwhile: sign again for the next number.
                guard Int(newest) + 1 == version else { return false }
                try await db.raw("""
                    INSERT INTO config_versions (version, digest, customers, created_at)
                    VALUES (\(bind: Int64(version)), \(bind: digest), \(bind: Int64(customers)), \(bind: Timestamp.millis(date)))
                    """).run()
                for (bundle, sealed) in zip(bundles, sealed) {
                    try await db.raw("DELETE FROM config_bundles WHERE region = \(bind: bundle.region.rawValue)").run()
                    try await db.raw("""
                        INSERT INTO config_bundles (region, version, signed)
                        VALUES (\(bind: bundle.region.rawValue), \(bind: Int64(version)), \(bind: sealed))
                        """).run()
                }
                try await SQLAuditLog.append(
                    AuditEvent("config.publish", target: "config/\(version)", detail: ["digest": digest, "customers": "\(customers)"]),
                    by: actor, at: date, on: db)
                return true
            }
            if stored { return (version, bundles) }
        }
    }

    public func bundle(for region: RegionID) async throws -> PublishedBundle? {
        let secrets = self.secrets
        return try await store.withSession { db in
            guard let row = try await db.raw("SELECT version, signed FROM config_bundles WHERE region = \(bind: region.rawValue)").first()
            else { return nil }
            return PublishedBundle(
                region: region, version: Int(try row.decode(column: "version", as: Int64.self)),
                signed: Data(try secrets.open(try row.decode(column: "signed", as: String.self)).utf8))
        }
    }
}

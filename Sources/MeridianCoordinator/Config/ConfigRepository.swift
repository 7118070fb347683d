import Foundation
import MeridianCore
import SQLKit

/// Config versions, the latest bundle of each region, and the nodes with their ACKs and NACKs, in SQL.
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

    public func nodes() async throws -> [NodeRecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM nodes ORDER BY region, id").all().map(Self.node)
        }
    }

    /// Deletes a node's row, with a `node.forget` audit entry; returns the row as it was, or nil with no such node.
    public func forget(node id: String, by actor: AuditActor, at date: Date) async throws -> NodeRecord? {
        try await store.transaction { db in
            guard let row = try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id)").first() else { return nil }
            let node = try Self.node(row)
            try await db.raw("DELETE FROM nodes WHERE id = \(bind: id)").run()
            try await SQLAuditLog.append(
                AuditEvent(
                    "node.forget", target: "node/\(id)",
                    detail: ["region": node.region, "control_url": node.controlURL, "applied_version": node.appliedVersion.map(String.init) ?? "none"]),
                by: actor, at: date, on: db)
            return node
        }
    }

    static func node(_ row: any SQLRow) throws -> NodeRecord {
        NodeRecord(
            id: try row.decode(column: "id", as: String.self), region: try row.decode(column: "region", as: String.self),
            controlURL: try row.decode(column: "control_url", as: String.self),
            appliedVersion: try row.decode(column: "applied_version", as: Int64?.self).map(Int.init),
            lastResult: try row.decode(column: "last_result", as: String?.self).flatMap(NodeRecord.Result.init),
            lastError: try row.decode(column: "last_error", as: String?.self),
            lastResultAt: try row.decode(column: "last_result_at", as: Int64?.self).map(Timestamp.date),
            firstSeenAt: Timestamp.date(try row.decode(column: "first_seen_at", as: Int64.self)),
            lastSeenAt: Timestamp.date(try row.decode(column: "last_seen_at", as: Int64.self)))
    }

    /// A node made contact (a pull): records where it is. Returns true when it is new, for the audit log.
    @discardableResult
    public func seen(node id: String, region: RegionID, controlURL: String, at date: Date) async throws -> Bool {
        try await store.transaction { db in
            let millis = Timestamp.millis(date)
            let existing = try await db.raw("SELECT region, control_url FROM nodes WHERE id = \(bind: id)").first()
            guard let existing else {
                try await db.raw("""
                    INSERT INTO nodes (id, region, control_url, first_seen_at, last_seen_at)
                    VALUES (\(bind: id), \(bind: region.rawValue), \(bind: controlURL), \(bind: millis), \(bind: millis))
                    """).run()
                try await SQLAuditLog.append(
                    AuditEvent("node.register", target: "node/\(id)", detail: ["region": region.rawValue, "control_url": controlURL]),
                    by: .system("node-protocol"), at: date, on: db)
                return true
            }
            let moved = try existing.decode(column: "region", as: String.self) != region.rawValue
                || existing.decode(column: "control_url", as: String.self) != controlURL
            try await db.raw("""
                UPDATE nodes SET region = \(bind: region.rawValue), control_url = \(bind: controlURL), last_seen_at = \(bind: millis)
                WHERE id = \(bind: id)
                """).run()
            if moved {
                try await SQLAuditLog.append(
                    AuditEvent("node.update", target: "node/\(id)", detail: ["region": region.rawValue, "control_url": controlURL]),
                    by: .system("node-protocol"), at: date, on: db)
            }
            return false
        }
    }

    /// Records a node's answer: an ACK moves its applied version; a NACK or no answer keeps it and says why.
    public func record(node id: String, result: NodeRecord.Result, version: Int?, error: String?, at date: Date) async throws {
        try await store.withSession { db in
            let millis = Timestamp.millis(date)
            let text = error.map { String($0.prefix(2000)) }
            if result == .ack, let version {
                try await db.raw("""
                    UPDATE nodes SET applied_version = \(bind: Int64(version)), last_result = 'ack', last_error = NULL,
                        last_result_at = \(bind: millis), last_seen_at = \(bind: millis) WHERE id = \(bind: id)
                    """).run()
            } else {
                let seen = result == .unreachable ? "" : ", last_seen_at = \(millis)"
                try await db.raw("""
                    UPDATE nodes SET last_result = \(bind: result.rawValue), last_error = \(bind: text),
                        last_result_at = \(bind: millis)\(unsafeRaw: seen) WHERE id = \(bind: id)
                    """).run()
            }
        }
    }
}

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

    /// Stores a new version, numbered one above the newest, with what `make` signs for that number: a snapshot of
    /// some regions (replacing their stored one) and each region's delta from the version before. Signing and
    /// sealing happen before the transaction, so that writers are not held up by them; the transaction (advisory
    /// lock on PostgreSQL, the single writer on SQLite) stores the version only if it is still the next one.
    ///
    /// With `base`, the version must follow `base` (the deltas apply to it): when another version came first, nothing
    /// is stored and nil is returned, for the caller to compile in full. Without, a lost race is signed again for the
    /// new next number, so versions only grow. Deltas more than ``keptDeltas`` versions old are dropped.
    public func publish(
        digest: String, customers: Int, at date: Date, audit actor: AuditActor, base: Int? = nil,
        make: @escaping @Sendable (Int) throws -> Publication
    ) async throws -> (version: Int, publication: Publication)? {
        while true {
            let newest = try await latest()?.version ?? 0
            if let base, base != newest { return nil }
            let version = newest + 1
            let publication = try make(version)
            let snapshots = try publication.snapshots.map { try secrets.seal(String(decoding: $0.signed, as: UTF8.self)) }
            let deltas = try publication.deltas.map { try secrets.seal(String(decoding: $0.signed, as: UTF8.self)) }
            let keep = Self.keptDeltas
            let stored = try await store.transaction { db in
                if db.dialect.name == "postgresql" {
                    try await db.raw("SELECT pg_advisory_xact_lock(7291003)").run()
                }
                let newest = try await db.raw("SELECT MAX(version) AS newest FROM config_versions").first()?
                    .decode(column: "newest", as: Int64?.self) ?? 0
                // Another replica published meanwhile.
                guard Int(newest) + 1 == version else { return false }
                try await db.raw("""
                    INSERT INTO config_versions (version, digest, customers, created_at)
                    VALUES (\(bind: Int64(version)), \(bind: digest), \(bind: Int64(customers)), \(bind: Timestamp.millis(date)))
                    """).run()
                for (bundle, sealed) in zip(publication.snapshots, snapshots) {
                    try await db.raw("DELETE FROM config_bundles WHERE region = \(bind: bundle.region.rawValue)").run()
                    try await db.raw("""
                        INSERT INTO config_bundles (region, version, bytes, signed)
                        VALUES (\(bind: bundle.region.rawValue), \(bind: Int64(version)), \(bind: Int64(bundle.signed.count)), \(bind: sealed))
                        """).run()
                }
                for (delta, sealed) in zip(publication.deltas, deltas) {
                    try await db.raw("""
                        INSERT INTO config_deltas (region, version, base_version, bytes, signed)
                        VALUES (\(bind: delta.region.rawValue), \(bind: Int64(version)), \(bind: Int64(delta.baseVersion)),
                            \(bind: Int64(delta.signed.count)), \(bind: sealed))
                        """).run()
                }
                try await db.raw("DELETE FROM config_deltas WHERE version <= \(bind: Int64(version - keep))").run()
                try await SQLAuditLog.append(
                    AuditEvent("config.publish", target: "config/\(version)", detail: [
                        "digest": digest, "customers": "\(customers)",
                        "sent_as": publication.snapshots.isEmpty ? "deltas" : publication.deltas.isEmpty ? "snapshots" : "snapshots and deltas",
                    ]),
                    by: actor, at: date, on: db)
                return true
            }
            if stored { return (version, publication) }
            if base != nil { return nil }
        }
    }

    /// How many versions of deltas are kept: a node further behind gets a snapshot.
    public static let keptDeltas = 256

    /// Replaces the stored snapshot of each bundle's region with it, unless a newer one is stored (a snapshot made
    /// in the background, after the deltas that led to it); audited as `config.snapshot` with the regions replaced.
    public func storeSnapshots(_ bundles: [PublishedBundle], at date: Date, audit actor: AuditActor) async throws {
        let sealed = try bundles.map { try secrets.seal(String(decoding: $0.signed, as: UTF8.self)) }
        try await store.transaction { db in
            var replaced: [String] = []
            for (bundle, sealed) in zip(bundles, sealed) {
                let stored = try await db.raw("SELECT version FROM config_bundles WHERE region = \(bind: bundle.region.rawValue)").first()?
                    .decode(column: "version", as: Int64.self)
                guard (stored ?? 0) < Int64(bundle.version) else { continue }
                replaced.append(bundle.region.rawValue)
                try await db.raw("DELETE FROM config_bundles WHERE region = \(bind: bundle.region.rawValue)").run()
                try await db.raw("""
                    INSERT INTO config_bundles (region, version, bytes, signed)
                    VALUES (\(bind: bundle.region.rawValue), \(bind: Int64(bundle.version)), \(bind: Int64(bundle.signed.count)), \(bind: sealed))
                    """).run()
            }
            guard let version = bundles.first?.version, !replaced.isEmpty else { return }
            try await SQLAuditLog.append(
                AuditEvent("config.snapshot", target: "config/\(version)", detail: ["regions": replaced.sorted().joined(separator: ",")]),
                by: actor, at: date, on: db)
        }
    }

    /// The version of each region's stored snapshot.
    public func snapshotVersions() async throws -> [RegionID: Int] {
        try await store.withSession { db in
            var versions: [RegionID: Int] = [:]
            for row in try await db.raw("SELECT region, version FROM config_bundles").all() {
                guard let region = RegionID(try row.decode(column: "region", as: String.self)) else { continue }
                versions[region] = Int(try row.decode(column: "version", as: Int64.self))
            }
            return versions
        }
    }

    /// The region's stored snapshot, which may be older than the newest version (deltas follow it).
    public func snapshot(for region: RegionID) async throws -> PublishedBundle? {
        let secrets = self.secrets
        return try await store.withSession { db in
            guard let row = try await db.raw("SELECT version, signed FROM config_bundles WHERE region = \(bind: region.rawValue)").first()
            else { return nil }
            return PublishedBundle(
                region: region, version: Int(try row.decode(column: "version", as: Int64.self)),
                signed: Data(try secrets.open(try row.decode(column: "signed", as: String.self)).utf8))
        }
    }

    /// The region's newest version and what brings a node of `region` from `version` to it, as ``ConfigUpdate``
    /// JSON (nil when the node has it): deltas alone when they chain from its version and weigh less than the
    /// snapshot, else the snapshot and the deltas after it. Nil when nothing is published for the region yet.
    public func update(for region: RegionID, from version: Int) async throws -> (newest: Int, json: Data?)? {
        let secrets = self.secrets
        return try await store.withSession { db in
            let snapshot = try await db.raw("SELECT version, bytes FROM config_bundles WHERE region = \(bind: region.rawValue)").first().map {
                (version: Int(try $0.decode(column: "version", as: Int64.self)), bytes: Int(try $0.decode(column: "bytes", as: Int64.self)))
            }
            let links = try await db.raw("""
                SELECT version, base_version, bytes FROM config_deltas WHERE region = \(bind: region.rawValue) ORDER BY version
                """).all().map {
                (version: Int(try $0.decode(column: "version", as: Int64.self)), base: Int(try $0.decode(column: "base_version", as: Int64.self)),
                 bytes: Int(try $0.decode(column: "bytes", as: Int64.self)))
            }
            let newest = max(snapshot?.version ?? 0, links.last?.version ?? 0)
            guard newest > 0 else { return nil }
            guard version != newest else { return (newest, nil) }
            /// The deltas from `start` to the newest, if they chain.
            func chain(from start: Int) -> [(version: Int, base: Int, bytes: Int)]? {
                guard let first = links.firstIndex(where: { $0.base == start }) else { return start == newest ? [] : nil }
                let run = Array(links[first...])
                guard zip(run, run.dropFirst()).allSatisfy({ $0.version == $1.base }), run.last?.version == newest else { return nil }
                return run
            }
            func signed(_ run: [(version: Int, base: Int, bytes: Int)]) async throws -> [Data] {
                guard let first = run.first else { return [] }
                return try await db.raw("""
                    SELECT signed FROM config_deltas WHERE region = \(bind: region.rawValue) AND version >= \(bind: Int64(first.version)) ORDER BY version
                    """).all().map { Data(try secrets.open(try $0.decode(column: "signed", as: String.self)).utf8) }
            }
            if let run = chain(from: version), snapshot == nil || run.reduce(0, { $0 + $1.bytes }) < snapshot!.bytes || version > snapshot!.version {
                return (newest, ConfigUpdate.json(snapshot: nil, deltas: try await signed(run)))
            }
            guard let snapshot, let row = try await db.raw("SELECT signed FROM config_bundles WHERE region = \(bind: region.rawValue)").first()
            else { return nil }
            let whole = Data(try secrets.open(try row.decode(column: "signed", as: String.self)).utf8)
            return (newest, ConfigUpdate.json(snapshot: whole, deltas: try await signed(chain(from: snapshot.version) ?? [])))
        }
    }
}

/// What one version stores: snapshots of some regions and each region's delta from the version before.
public struct Publication: Sendable {
    public var snapshots: [PublishedBundle]
    public var deltas: [PublishedDelta]

    public init(snapshots: [PublishedBundle] = [], deltas: [PublishedDelta] = []) {
        self.snapshots = snapshots
        self.deltas = deltas
    }
}

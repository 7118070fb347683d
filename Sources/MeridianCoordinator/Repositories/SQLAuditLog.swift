import Foundation
import MeridianCore
import SQLKit

/// ``AuditLog`` in SQL. Appends are serialised (an advisory lock on PostgreSQL, the single writer on SQLite) so
/// the chain has no forks even with several coordinator replicas.
public struct SQLAuditLog: AuditLog {
    let store: any SQLStore
    /// Entries recorded at the same time commit together (``AuditGroupCommit``).
    let group: AuditGroupCommit

    public init(store: any SQLStore) {
        self.store = store
        self.group = AuditGroupCommit(store: store)
    }

    /// Appends one entry in a transaction of its own, shared with the entries recorded at the same moment; returns
    /// once it is committed.
    public func record(_ event: AuditEvent, by actor: AuditActor, at date: Date) async throws {
        try await group.record(event, by: actor, at: date)
    }

    public func entries(after: Int64, limit: Int) async throws -> [AuditRecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM audit_log WHERE sequence > \(bind: after) ORDER BY sequence LIMIT \(bind: limit)")
                .all().map(Self.decode)
        }
    }

    public func entries(target: String, limit: Int) async throws -> [AuditRecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM audit_log WHERE target = \(bind: target) ORDER BY sequence LIMIT \(bind: limit)").all().map(Self.decode)
        }
    }

    public func head() async throws -> AuditRecord? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM audit_log ORDER BY sequence DESC LIMIT 1").first().map(Self.decode)
        }
    }

    /// Appends inside the caller's transaction, so a change and its audit entry commit together or not at all.
    @discardableResult
    static func append(_ event: AuditEvent, by actor: AuditActor, at date: Date, on db: any SQLDatabase) async throws -> AuditRecord {
        try await append([(event, actor, date)], on: db)[0]
    }

    /// Appends `entries` in order, chained to the head and to each other, with one lock and one read of the head.
    @discardableResult
    static func append(_ entries: [(AuditEvent, AuditActor, Date)], on db: any SQLDatabase) async throws -> [AuditRecord] {
        guard !entries.isEmpty else { return [] }
        if db.dialect.name == "postgresql" {
            try await db.raw("SELECT pg_advisory_xact_lock(7291002)").run()
        }
        let last = try await db.raw("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1").first()
        var sequence = try last?.decode(column: "sequence", as: Int64.self) ?? 0
        var previous = try last?.decode(column: "hash", as: String.self) ?? AuditRecord.genesisHash
        var records: [AuditRecord] = []
        for (event, actor, date) in entries {
            sequence += 1
            let record = AuditRecord(
                sequence: sequence, timestampMillis: Timestamp.millis(date), actorID: actor.id, actorRole: actor.role,
                action: event.action, target: event.target, sourceIP: actor.sourceIP, detail: event.detail,
                previousHash: previous)
            previous = record.hash
            records.append(record)
        }
        // One statement for the batch: at most ``AuditGroupCommit/batchLimit`` rows of 10 values, well under
        // SQLite's 32,766 bound values.
        var query = SQLQueryString("INSERT INTO audit_log (sequence, at_ms, actor_id, actor_role, action, target, source_ip, detail, previous_hash, hash) VALUES ")
        for (index, record) in records.enumerated() {
            if index > 0 { query.appendLiteral(", ") }
            query.appendInterpolation("""
                (\(bind: record.sequence), \(bind: record.timestampMillis), \(bind: record.actorID), \(bind: record.actorRole), \(bind: record.action), \
                \(bind: record.target), \(bind: record.sourceIP), \(bind: encodeDetail(record.detail)), \(bind: record.previousHash), \(bind: record.hash))
                """ as SQLQueryString)
        }
        try await db.raw(query).run()
        return records
    }

    static func decode(_ row: any SQLRow) throws -> AuditRecord {
        var record = AuditRecord(
            sequence: try row.decode(column: "sequence", as: Int64.self),
            timestampMillis: try row.decode(column: "at_ms", as: Int64.self),
            actorID: try row.decode(column: "actor_id", as: String.self),
            actorRole: try row.decode(column: "actor_role", as: String.self),
            action: try row.decode(column: "action", as: String.self),
            target: try row.decode(column: "target", as: String.self),
            sourceIP: try row.decode(column: "source_ip", as: String.self),
            detail: decodeDetail(try row.decode(column: "detail", as: String.self)),
            previousHash: try row.decode(column: "previous_hash", as: String.self))
        // The stored hash, not a fresh one: a reader must be able to see that the two disagree.
        record.hash = try row.decode(column: "hash", as: String.self)
        return record
    }

    static func encodeDetail(_ detail: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(detail), as: UTF8.self)) ?? "{}"
    }

    static func decodeDetail(_ text: String) -> [String: String] {
        (try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))) ?? ["_undecodable": text]
    }
}

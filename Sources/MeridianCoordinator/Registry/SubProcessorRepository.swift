import Foundation
import MeridianCore
import SQLKit

/// The sub-processor registry in SQL. Every change writes a new version and an audit entry in one transaction;
/// adding an entry also queues its announcement to every active customer with a DPA (``NotificationOutbox``).
///
/// The whole registry, which every public page and `GET /v1/subprocessors` read and which changes a few times a
/// year, is kept in a ``ReadCache`` for `lifetime`; a change here clears it, and the ``ReplicaBell`` clears the
/// other replicas'.
public struct SubProcessorRepository: Sendable {
    let store: any SQLStore
    let cache: ReadCache<[SubProcessor]>
    let bell: ReplicaBell?

    public init(store: any SQLStore, lifetime: Duration = .seconds(10), bell: ReplicaBell? = nil) {
        self.store = store
        self.cache = ReadCache(lifetime: lifetime, capacity: 1)
        self.bell = bell
        bell?.on(.registry) { [cache] in cache.clear() }
    }

    /// Every entry; `fresh` reads the database even when the cache holds the registry (the config publisher does).
    public func all(fresh: Bool = false) async throws -> [SubProcessor] {
        let read = {
            try await store.withSession { db in
                try await db.raw("SELECT entry FROM subprocessors ORDER BY id").all().map { try Self.entry($0.decode(column: "entry", as: String.self)) }
            }
        }
        if fresh { return try await read() }
        return try await cache.value("all", reading: read) ?? []
    }

    /// Forgets the cached registry here and on the other replicas, after a change.
    private func changed() {
        cache.clear()
        bell?.ring(.registry)
    }

    public func find(_ id: String) async throws -> SubProcessor? {
        try await store.withSession { db in
            try await db.raw("SELECT entry FROM subprocessors WHERE id = \(bind: id)").first()
                .map { try Self.entry($0.decode(column: "entry", as: String.self)) }
        }
    }

    public func isEmpty() async throws -> Bool {
        try await store.withSession { db in try await db.raw("SELECT id FROM subprocessors LIMIT 1").first() == nil }
    }

    /// Adds an entry; `announce` lists the notifications to queue with it (the announcement to DPA customers).
    public func add(_ entry: SubProcessor, by actor: AuditActor, announce: @escaping @Sendable ([CustomerContact]) -> [Notification] = { _ in [] })
        async throws
    {
        defer { changed() }
        try await store.transaction { db in
            guard try await db.raw("SELECT id FROM subprocessors WHERE id = \(bind: entry.id)").first() == nil else {
                throw RepositoryError.conflict("a sub-processor with id \(entry.id) exists")
            }
            try await db.raw("""
                INSERT INTO subprocessors (id, entry, version, updated_at)
                VALUES (\(bind: entry.id), \(bind: try Self.json(entry)), \(bind: Int64(entry.version)), \(bind: Timestamp.millis(entry.announcedAt)))
                """).run()
            try await Self.appendVersion(entry, .added, at: entry.announcedAt, by: actor, on: db)
            let notifications = announce(try await Self.customersWithDPA(on: db))
            for notification in notifications { try await NotificationOutbox.insert(notification, on: db) }
            try await SQLAuditLog.append(
                AuditEvent("subprocessor.create", target: entry.id, detail: [
                    "name": entry.name, "effective_from": ISOTime.string(entry.effectiveFrom),
                    "regions": entry.regions.map(\.rawValue).joined(separator: ","), "notifications": "\(notifications.count)",
                ]), by: actor, at: entry.announcedAt, on: db)
        }
    }

    /// Applies `change` to the current entry and stores the result as the next version.
    public func update(
        _ id: String, at date: Date, by actor: AuditActor, _ change: @escaping @Sendable (inout SubProcessor) throws -> [String: String]
    ) async throws -> SubProcessor {
        defer { changed() }
        return try await store.transaction { db in
            guard let row = try await db.raw("SELECT entry FROM subprocessors WHERE id = \(bind: id)").first() else {
                throw RepositoryError.notFound(id)
            }
            var entry = try Self.entry(try row.decode(column: "entry", as: String.self))
            let detail = try change(&entry)
            guard !detail.isEmpty else { return entry }
            entry.version += 1
            try await db.raw("""
                UPDATE subprocessors SET entry = \(bind: try Self.json(entry)), version = \(bind: Int64(entry.version)),
                    updated_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)
                """).run()
            let kind: SubProcessorVersion.Change = detail["effective_until"] != nil ? .retired : .changed
            try await Self.appendVersion(entry, kind, at: date, by: actor, on: db)
            try await SQLAuditLog.append(AuditEvent("subprocessor.update", target: id, detail: detail), by: actor, at: date, on: db)
            return entry
        }
    }

    /// Every version of every entry, newest first: the Atom feed and the history of the public page.
    public func versions(of id: String? = nil, limit: Int = 500) async throws -> [SubProcessorVersion] {
        try await store.withSession { db in
            let rows: [any SQLRow]
            if let id {
                rows = try await db.raw("""
                    SELECT * FROM subprocessor_versions WHERE subprocessor_id = \(bind: id) ORDER BY version DESC LIMIT \(bind: limit)
                    """).all()
            } else {
                rows = try await db.raw("""
                    SELECT * FROM subprocessor_versions ORDER BY changed_at DESC, subprocessor_id, version DESC LIMIT \(bind: limit)
                    """).all()
            }
            return try rows.map { row in
                SubProcessorVersion(
                    entry: try Self.entry(try row.decode(column: "entry", as: String.self)),
                    change: SubProcessorVersion.Change(rawValue: try row.decode(column: "change", as: String.self)) ?? .changed,
                    changedAt: Timestamp.date(try row.decode(column: "changed_at", as: Int64.self)),
                    changedBy: try row.decode(column: "changed_by", as: String.self))
            }
        }
    }

    static func appendVersion(_ entry: SubProcessor, _ change: SubProcessorVersion.Change, at date: Date, by actor: AuditActor, on db: any SQLDatabase)
        async throws
    {
        try await db.raw("""
            INSERT INTO subprocessor_versions (subprocessor_id, version, change, entry, changed_at, changed_by)
            VALUES (\(bind: entry.id), \(bind: Int64(entry.version)), \(bind: change.rawValue), \(bind: try json(entry)),
                \(bind: Timestamp.millis(date)), \(bind: actor.id))
            """).run()
    }

    /// Active customers that signed a DPA: who is told of a new sub-processor.
    static func customersWithDPA(on db: any SQLDatabase) async throws -> [CustomerContact] {
        try await db.raw("""
            SELECT c.id, c.name, c.contact_email FROM customers c
            WHERE c.status = 'active' AND EXISTS (SELECT 1 FROM dpas d WHERE d.customer_id = c.id) ORDER BY c.id
            """).all().map {
            CustomerContact(id: try $0.decode(column: "id", as: String.self), name: try $0.decode(column: "name", as: String.self),
                email: try $0.decode(column: "contact_email", as: String.self))
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return encoder
    }()

    static func json(_ entry: SubProcessor) throws -> String { String(decoding: try encoder.encode(entry), as: UTF8.self) }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    static func entry(_ json: String) throws -> SubProcessor {
        try decoder.decode(SubProcessor.self, from: Data(json.utf8))
    }
}

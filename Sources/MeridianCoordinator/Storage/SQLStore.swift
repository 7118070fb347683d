import Foundation
import SQLKit

/// Which database engine a store runs on. Queries are written once in SQLKit; only DDL differs.
public enum StoreKind: String, Sendable, CaseIterable {
    case postgres
    case sqlite
}

/// A database the coordinator's repositories run their SQL on: PostgreSQL in production, SQLite embedded.
public protocol SQLStore: Sendable {
    var kind: StoreKind { get }

    /// Runs `body` on one connection, so that consecutive statements share a session.
    func withSession<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
}

extension SQLStore {
    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let begin = kind == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN"
        return try await withSession { db in
            try await db.raw(SQLQueryString(begin)).run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }
}

/// The database cannot be reached, or the connection went while a statement was in flight. The API answers
/// it with 503 and `Retry-After`; it is never a reason for a 500.
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable {
        /// No connection could be had in time: nothing was done.
        case noConnection
        /// The connection went during the work: whether its last statement took effect is unknown.
        case connectionLost
    }

    public var reason: Reason
    /// What the driver said, for the log only.
    public var underlying: String?

    public init(_ reason: Reason, underlying: String?) {
        self.reason = reason
        self.underlying = underlying
    }

    public var description: String {
        switch reason {
        case .noConnection: "the database is not answering"
        case .connectionLost: "the connection to the database was lost during the request"
        }
    }
}

/// Where the coordinator keeps its state, parsed from `--database`: `sqlite:PATH` or `postgres://...`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    public struct PostgresLocation: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var user: String
        public var password: String?
        public var database: String
        public var requireTLS: Bool

        /// A libpq URL for the PostgreSQL tools, without the password (they take it from PGPASSWORD).
        var toolURL: String {
            var components = URLComponents()
            components.scheme = "postgresql"
            components.user = user
            components.host = host
            components.port = port
            components.path = "/" + database
            components.queryItems = [URLQueryItem(name: "sslmode", value: requireTLS ? "require" : "disable")]
            return components.string ?? "postgresql://\(user)@\(host):\(port)/\(database)"
        }
    }

    public init(parsing text: String) throws(DatabaseLocationError) {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw DatabaseLocationError(text, "sqlite: needs a file path, e.g. sqlite:.meridian/coordinator.sqlite") }
            self = .sqlite(path: path)
            return
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URLComponents(string: text),
            let host = url.host, !host.isEmpty
        else {
            throw DatabaseLocationError(text, "expected sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty else { throw DatabaseLocationError(text, "the URL names no database after the host") }
        let mode = url.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        guard ["disable", "require"].contains(mode) else {
            throw DatabaseLocationError(text, "sslmode must be disable or require, not \(mode)")
        }
        self = .postgres(.init(
            host: host, port: url.port ?? 5432, user: url.user ?? "postgres", password: url.password,
            database: database, requireTLS: mode == "require"))
    }

    /// The location with any password hidden, for logs and messages.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let pg): "postgres://\(pg.user)\(pg.password == nil ? "" : ":***")@\(pg.host):\(pg.port)/\(pg.database)"
        }
    }
}

public struct DatabaseLocationError: Error, CustomStringConvertible {
    public var value: String
    public var problem: String
    init(_ value: String, _ problem: String) {
        self.value = value
        self.problem = problem
    }
    public var description: String {
        let shown = (try? DatabaseLocation(parsing: value))?.description ?? value.replacingOccurrences(
            of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)
        return "--database \(shown): \(problem)"
    }
}

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

extension CoordinatorError {
    /// No connection to the database could be had in time: nothing was done. The API answers it with 503 and
    /// `Retry-After`; it is never a reason for a 500.
    static func storeNoConnection(underlying: String?) -> CoordinatorError {
        CoordinatorError(.storeNoConnection, "the database is not answering", underlying: underlying)
    }

    /// The connection to the database went while a statement was in flight: its outcome is unknown.
    static func storeConnectionLost(underlying: String?) -> CoordinatorError {
        CoordinatorError(.storeConnectionLost, "the connection to the database was lost during the request", underlying: underlying)
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

    public init(parsing text: String) throws(CoordinatorError) {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw .databaseLocationInvalid(text, "sqlite: needs a file path, e.g. sqlite:.meridian/coordinator.sqlite") }
            self = .sqlite(path: path)
            return
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = URLComponents(string: text),
            let host = url.host, !host.isEmpty
        else {
            throw .databaseLocationInvalid(text, "expected sqlite:PATH or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty else { throw .databaseLocationInvalid(text, "the URL names no database after the host") }
        let mode = url.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        guard ["disable", "require"].contains(mode) else {
            throw .databaseLocationInvalid(text, "sslmode must be disable or require, not \(mode)")
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

extension CoordinatorError {
    /// `--database` is not usable: the reason names the value, with any password hidden.
    static func databaseLocationInvalid(_ value: String, _ problem: String) -> CoordinatorError {
        let shown = value.replacingOccurrences(of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)
        return CoordinatorError(.databaseLocationInvalid, "--database \(shown): \(problem)")
    }
}

import Foundation

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

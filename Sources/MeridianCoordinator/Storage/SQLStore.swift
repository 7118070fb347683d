import Foundation
import SQLKit

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

extension CoordinatorError {
    /// `--database` is not usable: the reason names the value, with any password hidden.
    static func databaseLocationInvalid(_ value: String, _ problem: String) -> CoordinatorError {
        let shown = value.replacingOccurrences(of: #":[^:@/]*@"#, with: ":***@", options: .regularExpression)
        return CoordinatorError(.databaseLocationInvalid, "--database \(shown): \(problem)")
    }
}

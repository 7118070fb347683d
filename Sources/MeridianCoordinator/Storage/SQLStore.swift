import Foundation
import SQLKit
import Synchronization

/// A database the coordinator's repositories run their SQL on: PostgreSQL in production, SQLite embedded.
public protocol SQLStore: Sendable {
    var kind: StoreKind { get }

    /// Runs `body` on one connection, so that consecutive statements share a session.
    func withSession<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
}

extension SQLStore {
    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    ///
    /// When the connection goes mid-transaction, the session is answered before its statements are (the
    /// store's watch); the transaction then either had sent its COMMIT (its outcome is unknown: the connection-lost
    /// error) or is stopped from sending it, and the error says nothing was changed (``CoordinatorErrorCode/storeNotCommitted``),
    /// so the API can run the request again rather than answer 503.
    @discardableResult
    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let begin = kind == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN"
        let state = Mutex((commitSent: false, abandoned: false))
        do {
            return try await withSession { db in
                try await db.raw(SQLQueryString(begin)).run()
                do {
                    let result = try await body(db)
                    let go = state.withLock { state -> Bool in
                        guard !state.abandoned else { return false }
                        state.commitSent = true
                        return true
                    }
                    guard go else { throw CoordinatorError(.storeNotCommitted, "the transaction was abandoned before its commit") }
                    try await db.raw("COMMIT").run()
                    return result
                } catch {
                    try? await db.raw("ROLLBACK").run()
                    throw error
                }
            }
        } catch let error as CoordinatorError where error.code == .storeConnectionLost {
            let committing = state.withLock { state -> Bool in
                if !state.commitSent { state.abandoned = true }
                return state.commitSent
            }
            if committing { throw error }
            throw CoordinatorError(.storeNotCommitted, "the connection to the database was lost before the change was committed; nothing was changed",
                                   underlying: error.underlying)
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

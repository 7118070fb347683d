import Foundation
import SQLKit

/// A work item (a row with `id`, `claimed_by` and `claimed_until`) taken by one replica at a time, so that
/// replicas sharing a database never do the same item twice at once.
///
/// A claim is the claimer's while the claimer is alive (``Leadership`` records each replica's sign of life every
/// second or so) and at most until `claimed_until`, and it is released when the work is recorded. A replica that
/// dies holding one leaves it to the others `liveness` after its last sign of life. On PostgreSQL the rows are locked with `FOR UPDATE SKIP LOCKED` while they are claimed, so replicas claiming
/// at the same moment take different rows rather than waiting for each other; SQLite has one writer.
enum WorkClaim {
    /// How long a claimed item stays its claimer's: longer than any one item's work (a webhook is given 15 s, a
    /// directive's pushes 30 s).
    static let lease: TimeInterval = 120
    /// How long after its last sign of life a replica's claims are void, on the database's clock.
    static let liveness: Duration = .seconds(10)

    /// Claims up to `limit` rows of `table` that match `condition`, in `order`, for `holder`; returns them.
    static func claim(
        _ table: String, where condition: SQLQueryString, order: String, limit: Int, by holder: String, at date: Date, kind: StoreKind,
        on db: any SQLDatabase
    ) async throws -> [any SQLRow] {
        let now = Timestamp.millis(date)
        let until = Timestamp.millis(date.addingTimeInterval(lease))
        let locking = kind == .postgres ? "FOR UPDATE SKIP LOCKED" : ""
        let silent = Int64(liveness.components.seconds * 1000)
        let databaseNow = SQLRaw(Leadership.databaseNow(kind))
        return try await db.raw("""
            UPDATE \(ident: table) SET claimed_by = \(bind: holder), claimed_until = \(bind: until)
            WHERE id IN (
                SELECT id FROM \(ident: table) WHERE \(condition)
                    AND (claimed_until IS NULL OR claimed_until < \(bind: now)
                        OR claimed_by NOT IN (SELECT name FROM coordinator_replicas WHERE seen_at >= \(databaseNow) - \(bind: silent)))
                ORDER BY \(unsafeRaw: order) LIMIT \(bind: limit) \(unsafeRaw: locking))
            RETURNING *
            """).all()
    }

    /// Gives a claimed row back (its work was recorded, or given up) so that it is due again at once.
    static func release(_ table: String, id: String, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE \(ident: table) SET claimed_by = NULL, claimed_until = NULL WHERE id = \(bind: id)").run()
    }
}

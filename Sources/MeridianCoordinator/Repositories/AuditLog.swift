import Foundation
import MeridianCore

/// The append-only, hash-chained audit log.
public protocol AuditLog: Sendable {
    /// Records an event that is not part of a change made elsewhere, such as a read of customer data.
    func record(_ event: AuditEvent, by actor: AuditActor, at: Date) async throws
    /// Entries with a sequence number greater than `after`, in order.
    func entries(after: Int64, limit: Int) async throws -> [AuditRecord]
    /// Every entry about `target` (an account), oldest first, at most `limit`.
    func entries(target: String, limit: Int) async throws -> [AuditRecord]
    /// The newest entry, the log's head; nil while the log is empty.
    func head() async throws -> AuditRecord?
}

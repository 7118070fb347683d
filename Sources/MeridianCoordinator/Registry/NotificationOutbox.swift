import Foundation
import MeridianCore
import SQLKit

/// The outbox table. Notifications are written in the transaction of the change they announce, so a change is
/// never made without its announcement, and sent afterwards by ``OutboxJob`` with retries.
public struct NotificationOutbox: Sendable {
    let store: any SQLStore
    /// After this many failed attempts a notification is marked failed and left for an operator.
    public static let maximumAttempts = 12

    public init(store: any SQLStore) {
        self.store = store
    }

    static func insert(_ notification: Notification, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO notifications (id, customer_id, channel, event_type, recipient, subject, body, body_sealed, status, attempts,
                next_attempt_at, created_at)
            VALUES (\(bind: notification.id), \(bind: notification.customerID), \(bind: notification.channel.rawValue),
                \(bind: notification.eventType), \(bind: notification.recipient), \(bind: notification.subject), \(bind: notification.body),
                \(bind: notification.bodySealed ? 1 : 0), 'pending', 0, \(bind: Timestamp.millis(notification.nextAttemptAt)),
                \(bind: Timestamp.millis(notification.createdAt)))
            """).run()
    }

    public func due(at date: Date, limit: Int = 100) async throws -> [Notification] {
        try await store.withSession { db in
            try await db.raw("""
                SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= \(bind: Timestamp.millis(date))
                ORDER BY next_attempt_at, id LIMIT \(bind: limit)
                """).all().map(Self.decode)
        }
    }

    /// Claims the next due notification for `replica` (``WorkClaim``): no other replica sends it until this one
    /// records the attempt or dies and its claim runs out. Nil when nothing is due or unclaimed.
    public func claimNext(at date: Date, by replica: String) async throws -> Notification? {
        let kind = store.kind
        return try await store.withSession { db in
            try await WorkClaim.claim(
                "notifications", where: "status = 'pending' AND next_attempt_at <= \(bind: Timestamp.millis(date))", order: "next_attempt_at, id",
                limit: 1, by: replica, at: date, kind: kind, on: db
            ).first.map(Self.decode)
        }
    }

    /// Newest first, optionally for one customer.
    public func list(customerID: String? = nil, limit: Int = 200) async throws -> [Notification] {
        try await store.withSession { db in
            if let customerID {
                return try await db.raw("""
                    SELECT * FROM notifications WHERE customer_id = \(bind: customerID) ORDER BY created_at DESC, id DESC LIMIT \(bind: limit)
                    """).all().map(Self.decode)
            }
            return try await db.raw("SELECT * FROM notifications ORDER BY created_at DESC, id DESC LIMIT \(bind: limit)").all().map(Self.decode)
        }
    }

    public func markSent(_ id: String, at date: Date) async throws {
        try await store.withSession { db in
            try await db.raw("""
                UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = \(bind: Timestamp.millis(date)), last_error = NULL,
                    claimed_by = NULL, claimed_until = NULL
                WHERE id = \(bind: id)
                """).run()
        }
    }

    /// Records a failed attempt; retries after 30 s, doubling up to an hour, until ``maximumAttempts``.
    public func markFailed(_ notification: Notification, error: String, at date: Date) async throws {
        let attempts = notification.attempts + 1
        let delay = min(3600, 30 * pow(2, Double(attempts - 1)))
        let status: Notification.Status = attempts >= Self.maximumAttempts ? .failed : .pending
        try await store.withSession { db in
            try await db.raw("""
                UPDATE notifications SET status = \(bind: status.rawValue), attempts = \(bind: Int64(attempts)), last_error = \(bind: String(error.prefix(500))),
                    next_attempt_at = \(bind: Timestamp.millis(date.addingTimeInterval(delay))), claimed_by = NULL, claimed_until = NULL
                WHERE id = \(bind: notification.id)
                """).run()
        }
    }

    static func decode(_ row: any SQLRow) throws -> Notification {
        var notification = Notification(
            id: try row.decode(column: "id", as: String.self), customerID: try row.decode(column: "customer_id", as: String.self),
            channel: Notification.Channel(rawValue: try row.decode(column: "channel", as: String.self)) ?? .email,
            eventType: try row.decode(column: "event_type", as: String.self), recipient: try row.decode(column: "recipient", as: String?.self),
            subject: try row.decode(column: "subject", as: String.self), body: try row.decode(column: "body", as: String.self),
            bodySealed: try row.decode(column: "body_sealed", as: Int64.self) != 0,
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)))
        notification.status = Notification.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending
        notification.attempts = Int(try row.decode(column: "attempts", as: Int64.self))
        notification.nextAttemptAt = Timestamp.date(try row.decode(column: "next_attempt_at", as: Int64.self))
        notification.lastError = try row.decode(column: "last_error", as: String?.self)
        notification.sentAt = try row.decode(column: "sent_at", as: Int64?.self).map(Timestamp.date)
        return notification
    }
}

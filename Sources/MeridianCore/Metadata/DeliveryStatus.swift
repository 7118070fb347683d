import Foundation

/// The final or current state of one recipient's delivery.
public enum DeliveryStatus: String, Sendable, Codable, CaseIterable {
    /// Spooled, waiting for its next attempt.
    case queued
    /// The webhook answered 2xx.
    case delivered
    /// Given up: a permanent error, or the queue lifetime ran out (a DSN went to the sender).
    case failed
    /// Sync mode: the webhook refused it and the SMTP client got 550.
    case rejected
    /// Sync mode: the webhook was unreachable or answered 5xx, and the SMTP client got 451.
    case deferred
    /// Held in the customer's quarantine (its filtering policy): not delivered until released.
    case quarantined
    /// Deleted from the quarantine without delivery: by the customer, by support under a grant, or after the
    /// region's quarantine period.
    case discarded
}

import Foundation
import MeridianCore

/// The code sent for a ticket, as stored: its hash, where it went, until when it holds and how often it was tried.
public struct PendingVerification: Sendable, Hashable {
    public var codeHash: String
    public var sentTo: String
    public var expiresAt: Date
    public var attempts: Int

    public var attemptsLeft: Int { max(0, VerificationCode.maximumAttempts - attempts) }
}

import MeridianCore

/// Turns the accepted content of a transaction into its final reply: spool it (queued) or post it (sync).
public protocol MessageIntake: Sendable {
    func accept(_ transaction: SMTPTransaction, configVersion: Int) async -> SMTPReply
}

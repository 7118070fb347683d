/// A policy from a closure, for tests and tools.
public struct SMTPRecipientPolicyClosure: SMTPRecipientPolicy {
    let body: @Sendable (SMTPMailbox) -> SMTPRecipientDecision
    public init(_ body: @escaping @Sendable (SMTPMailbox) -> SMTPRecipientDecision) { self.body = body }
    public func decide(_ recipient: SMTPMailbox, accepted: [SMTPTransaction.Recipient]) -> SMTPRecipientDecision {
        body(recipient)
    }
}

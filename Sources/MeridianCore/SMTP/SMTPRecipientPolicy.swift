/// Decides, at `RCPT TO`, whether this node takes mail for a recipient. The node answers it from its
/// config bundle: the customer that owns the domain, and the region the customer is pinned to.
public protocol SMTPRecipientPolicy: Sendable {
    /// `accepted` holds the transaction's recipients accepted so far, so a policy can keep one transaction to
    /// recipients that share a delivery (see ``SMTPRecipientDecision/separateTransaction(_:)``).
    func decide(_ recipient: SMTPMailbox, accepted: [SMTPTransaction.Recipient]) -> SMTPRecipientDecision
}

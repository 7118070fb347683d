public enum SMTPRecipientDecision: Sendable, Hashable {
    /// This node processes the recipient's mail for the given customer.
    case accept(customer: String)
    /// The customer is pinned to another region: `451 4.7.1` naming that region's MX host, before any
    /// content is transferred, so pinned content is never processed outside its region.
    case pinnedElsewhere(region: String, mxHost: String)
    /// No customer has this address: `550 5.1.1`.
    case unknown
    /// The recipient cannot share this transaction with the ones accepted so far (for example a `sync`
    /// customer's webhook decides the one reply to DATA): `452 4.5.3`, which tells the client to send it in
    /// another transaction (RFC 5321 section 3.3).
    case separateTransaction(String)
}

extension SMTPRecipientDecision {
    func reply(for recipient: SMTPMailbox) -> SMTPReply {
        switch self {
        case .accept:
            return SMTPReply(250, "2.1.5", "Recipient <\(recipient)> OK")
        case let .pinnedElsewhere(region, mxHost):
            return SMTPReply(
                451, "4.7.1",
                "<\(recipient)>: mail for \(recipient.domain) is processed in region \(region) only; deliver it to \(mxHost)"
            )
        case .unknown:
            return SMTPReply(550, "5.1.1", "<\(recipient)>: no such recipient here")
        case let .separateTransaction(reason):
            return SMTPReply(452, "4.5.3", "<\(recipient)>: \(reason); send it in a separate transaction")
        }
    }
}

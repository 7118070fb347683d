/// Answers `RCPT TO` from a node bundle: by full inbound address first, then by domain.
///
/// A `sync` customer's webhook decides the single reply to DATA, so a transaction holds the recipients of one
/// `sync` customer, or of `queued` customers only; any other recipient is deferred to a separate transaction.
/// The same goes for filtering: a spam, virus or DMARC refusal is the reply to DATA, so a transaction holds
/// customers of one ``FilteringPolicy`` only.
public struct RecipientDirectory: SMTPRecipientPolicy {
    public let bundle: NodeBundle
    private let byID: [String: Int]
    private let byAddress: [String: Int]
    private let byDomain: [String: Int]
    private let elsewhere: [String: NodeBundle.PinnedElsewhere]

    public init(_ bundle: NodeBundle) {
        self.bundle = bundle
        var byAddress: [String: Int] = [:]
        var byDomain: [String: Int] = [:]
        for (index, customer) in bundle.customers.enumerated() {
            for address in customer.addresses { byAddress[address.lowercased()] = index }
            for domain in customer.domains { byDomain[domain.lowercased()] = index }
        }
        self.byID = Dictionary(bundle.customers.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.byAddress = byAddress
        self.byDomain = byDomain
        self.elsewhere = Dictionary(bundle.elsewhere.map { ($0.domain.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func customer(_ id: String) -> NodeBundle.Customer? {
        byID[id].map { bundle.customers[$0] }
    }

    public func customer(for recipient: SMTPMailbox) -> NodeBundle.Customer? {
        let domain = recipient.domain.lowercased()
        if let index = byAddress["\(recipient.localPart.lowercased())@\(domain)"] ?? byDomain[domain] {
            return bundle.customers[index]
        }
        return nil
    }

    public func decide(_ recipient: SMTPMailbox, accepted: [SMTPTransaction.Recipient]) -> SMTPRecipientDecision {
        guard let customer = customer(for: recipient) else {
            if let pinned = elsewhere[recipient.domain.lowercased()] {
                return .pinnedElsewhere(region: pinned.region.rawValue, mxHost: pinned.mxHost)
            }
            return .unknown
        }
        if let first = accepted.first, first.customer != customer.id {
            if customer.webhook.mode == .sync {
                return .separateTransaction("this recipient's webhook answers for its own messages")
            }
            if self.customer(first.customer)?.webhook.mode == .sync {
                return .separateTransaction("this transaction is answered by another recipient's webhook")
            }
            if (customer.filtering ?? .standard) != (self.customer(first.customer)?.filtering ?? .standard) {
                return .separateTransaction("this recipient's mail is filtered by other rules")
            }
        }
        return .accept(customer: customer.id)
    }
}

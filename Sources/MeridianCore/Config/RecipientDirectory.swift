/// Answers `RCPT TO` from a node bundle: by full inbound address first, then by domain.
///
/// A `sync` customer's webhook decides the single reply to DATA, so a transaction holds the recipients of one
/// `sync` customer, or of `queued` customers only; any other recipient is deferred to a separate transaction.
/// The same goes for filtering: a spam, virus or DMARC refusal is the reply to DATA, so a transaction holds
/// customers of one ``FilteringPolicy`` only.
///
/// A directory is a value: a new version makes a new directory, and a session keeps the one it started with. It is
/// a snapshot's indexes (built once, shared) under an overlay of the changes config deltas made since
/// (``applying(_:)``), so that a delta of one customer costs a few dictionary writes and not a rebuild of a million
/// customers' indexes. Once the overlay holds a thirty-second of the snapshot (at least 4,096 entries) the two are merged into a new
/// snapshot.
public struct RecipientDirectory: SMTPRecipientPolicy {
    /// The bundle's version, region, policy, egress policy and sub-processors; its customers are the directory's.
    public let header: NodeBundle
    /// How many customers the directory holds.
    public let customerCount: Int
    private let base: Snapshot
    private var overlay: Overlay

    public var version: Int { header.version }

    public init(_ bundle: NodeBundle) {
        var header = bundle
        header.customers = []
        header.elsewhere = []
        self.header = header
        self.customerCount = bundle.customers.count
        self.base = Snapshot(bundle)
        self.overlay = Overlay()
    }

    private init(header: NodeBundle, customerCount: Int, base: Snapshot, overlay: Overlay) {
        self.header = header
        self.customerCount = customerCount
        self.base = base
        self.overlay = overlay
    }

    /// The indexes of a snapshot's customers, built once.
    private final class Snapshot: Sendable {
        let customers: [NodeBundle.Customer]
        let byID: [String: Int]
        /// Lowercased addresses and domains to the index of their customer.
        let routes: [String: Int]
        let elsewhere: [String: NodeBundle.PinnedElsewhere]

        init(_ bundle: NodeBundle) {
            customers = bundle.customers
            var routes: [String: Int] = [:]
            routes.reserveCapacity(bundle.customers.count)
            for (index, customer) in bundle.customers.enumerated() {
                for address in customer.addresses { routes[address.lowercased()] = index }
                for domain in customer.domains { routes[domain.lowercased()] = index }
            }
            self.routes = routes
            byID = Dictionary(bundle.customers.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
            elsewhere = Dictionary(bundle.elsewhere.map { ($0.domain.lowercased(), $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// The changes since the snapshot: a key present with nil is removed, one absent is the snapshot's.
    private struct Overlay: Sendable {
        var customers: [String: NodeBundle.Customer?] = [:]
        /// Lowercased addresses and domains to their customer's id.
        var routes: [String: String?] = [:]
        var elsewhere: [String: NodeBundle.PinnedElsewhere?] = [:]
    }

    public func customer(_ id: String) -> NodeBundle.Customer? {
        if let changed = overlay.customers[id] { return changed }
        return base.byID[id].map { base.customers[$0] }
    }

    /// The id of the customer `key` (a lowercased address or domain) routes to.
    private func owner(_ key: String) -> String? {
        if let changed = overlay.routes[key] { return changed }
        return base.routes[key].map { base.customers[$0].id }
    }

    private func pinned(_ domain: String) -> NodeBundle.PinnedElsewhere? {
        if let changed = overlay.elsewhere[domain] { return changed }
        return base.elsewhere[domain]
    }

    public func customer(for recipient: SMTPMailbox) -> NodeBundle.Customer? {
        let domain = recipient.domain.lowercased()
        guard let id = owner("\(recipient.localPart.lowercased())@\(domain)") ?? owner(domain) else { return nil }
        return customer(id)
    }

    public func decide(_ recipient: SMTPMailbox, accepted: [SMTPTransaction.Recipient]) -> SMTPRecipientDecision {
        guard let customer = customer(for: recipient) else {
            if let pinned = pinned(recipient.domain.lowercased()) {
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

    /// The whole bundle the directory holds, customers and domains pinned elsewhere sorted as the compiler sorts them.
    public func bundle() -> NodeBundle {
        guard !(overlay.customers.isEmpty && overlay.elsewhere.isEmpty) else {
            var bundle = header
            bundle.customers = base.customers
            bundle.elsewhere = base.elsewhere.values.sorted { $0.domain < $1.domain }
            return bundle
        }
        var customers = base.customers.filter { overlay.customers[$0.id] == nil }
        customers += overlay.customers.values.compactMap { $0 }
        customers.sort { $0.id < $1.id }
        var elsewhere = base.elsewhere.filter { overlay.elsewhere[$0.key] == nil }.map(\.value)
        elsewhere += overlay.elsewhere.values.compactMap { $0 }
        elsewhere.sort { $0.domain < $1.domain }
        var bundle = header
        bundle.customers = customers
        bundle.elsewhere = elsewhere
        return bundle
    }

    /// The directory with `delta` applied (its secrets opened), checked as a bundle is: for this region and the
    /// version in force, each changed customer valid, pinned here or unpinned, its steps those of a sub-processor
    /// in force, and no address or domain claimed by two owners. A delta that fails changes nothing.
    public func applying(_ delta: NodeBundleDelta) throws(CoreError) -> RecipientDirectory {
        guard delta.region == header.region else {
            throw CoreError(.bundleForAnotherRegion, "the delta is for region \(delta.region), this node serves \(header.region)")
        }
        guard delta.baseVersion == header.version else {
            throw CoreError(.deltaBaseMismatch, "the delta applies to version \(delta.baseVersion), and version \(header.version) is in force")
        }
        guard delta.version > delta.baseVersion else {
            throw CoreError(.bundleInvalid, "the delta goes from version \(delta.baseVersion) to \(delta.version)")
        }
        var header = self.header
        header.version = delta.version
        if let policy = delta.policy { header.policy = policy }
        if let egress = delta.egress { header.egress = egress }
        if let subprocessors = delta.subprocessors { header.subprocessors = subprocessors }
        var overlay = self.overlay
        var count = customerCount
        // First every key the changed and removed entries held is let go, then the new entries claim theirs, each
        // of which must then be free.
        func release(_ customer: NodeBundle.Customer) {
            for key in customer.addresses + customer.domains { overlay.routes[key.lowercased()] = .some(nil) }
        }
        for id in delta.removedCustomers {
            guard let old = customer(id) else { throw CoreError(.bundleInvalid, "the delta removes customer \(id), which version \(self.header.version) does not hold") }
            release(old)
            overlay.customers[id] = .some(nil)
            count -= 1
        }
        for domain in delta.removedElsewhere {
            guard pinned(domain.lowercased()) != nil else {
                throw CoreError(.bundleInvalid, "the delta removes \"\(domain)\" pinned elsewhere, which version \(self.header.version) does not hold")
            }
            overlay.elsewhere[domain.lowercased()] = .some(nil)
        }
        for entry in delta.elsewhere where pinned(entry.domain.lowercased()) != nil {
            overlay.elsewhere[entry.domain.lowercased()] = .some(nil)
        }
        var seen = Set(delta.removedCustomers)
        for customer in delta.customers {
            guard seen.insert(customer.id).inserted else { throw CoreError(.bundleInvalid, "customer \(customer.id) appears twice in the delta") }
            if let old = self.customer(customer.id) { release(old) } else { count += 1 }
        }
        let served = Set(header.subprocessors.flatMap(\.steps))
        var current = RecipientDirectory(header: header, customerCount: count, base: base, overlay: overlay)
        for customer in delta.customers {
            if let pin = customer.region, pin != header.region {
                throw CoreError(.bundleInvalid, "customer \(customer.id) is pinned to \(pin) and must not be in the \(header.region) bundle")
            }
            try customer.validate()
            for step in customer.steps where !step.isOptional || !served.contains(step) {
                throw CoreError(.bundleInvalid, "customer \(customer.id): step \(step.rawValue) is not an optional step of a sub-processor in this bundle")
            }
            for key in (customer.addresses + customer.domains).map({ $0.lowercased() }) {
                if let other = current.owner(key), other != customer.id {
                    throw CoreError(.bundleInvalid, "\"\(key)\" belongs to both \(other) and \(customer.id)")
                }
                if let pinned = current.pinned(key) {
                    throw CoreError(.bundleInvalid, "\"\(key)\" belongs to both region \(pinned.region) and \(customer.id)")
                }
                current.overlay.routes[key] = .some(customer.id)
            }
            current.overlay.customers[customer.id] = .some(customer)
        }
        for entry in delta.elsewhere {
            guard entry.region != header.region else {
                throw CoreError(.bundleInvalid, "\"\(entry.domain)\" is listed as pinned elsewhere but names this region")
            }
            let key = entry.domain.lowercased()
            if let owner = current.owner(key) { throw CoreError(.bundleInvalid, "\"\(key)\" belongs to both \(owner) and region \(entry.region)") }
            if current.pinned(key) != nil { throw CoreError(.bundleInvalid, "\"\(key)\" is pinned elsewhere twice") }
            current.overlay.elsewhere[key] = .some(entry)
        }
        // Merged into a new snapshot once copying the overlay would slow every next delta.
        if current.overlay.customers.count + current.overlay.elsewhere.count > max(4096, base.customers.count / 32) {
            return RecipientDirectory(current.bundle())
        }
        return current
    }
}

import Foundation
import Logging
import MeridianCore

/// Checks the ownership records of customers' domains (`_meridian.<domain>` TXT): a pending or suspended domain
/// whose record appears is verified and routed; a verified domain is checked again every ``recheckAfter``, and
/// one whose record has gone is suspended after ``grace``, with a notice to the customer when its record is
/// first missed and when it is suspended. A resolver that does not answer changes nothing. Domains proved by
/// hand (an operator's verification, the sandbox's reserved names) are left alone.
public struct DomainProofJob: Sendable {
    let customers: any CustomerRepository
    /// The TXT strings at a name; throws when the resolver does not answer.
    let lookup: @Sendable (String) async throws -> [String]
    let recheckAfter: TimeInterval
    let grace: TimeInterval
    let service: ServiceProfile
    let now: @Sendable () -> Date
    let logger: Logger

    public init(
        customers: any CustomerRepository, lookup: @escaping @Sendable (String) async throws -> [String], recheckAfter: TimeInterval,
        grace: TimeInterval, service: ServiceProfile, now: @escaping @Sendable () -> Date, logger: Logger
    ) {
        self.customers = customers
        self.lookup = lookup
        self.recheckAfter = recheckAfter
        self.grace = grace
        self.service = service
        self.now = now
        self.logger = logger
    }

    /// Checks every domain that is due; returns how many changed state.
    @discardableResult
    public func runOnce() async throws -> Int {
        var changed = 0
        for customer in try await customers.allActive() {
            for domain in customer.domains where isDue(domain) {
                let finding = await find(domain)
                let check = DomainProofCheck(domain, finding: finding, at: now(), grace: grace)
                guard check.domain != domain else { continue }
                _ = try await customers.saveDomainProof(
                    customer.id, check.domain, event: check.event, detail: [:], notices: [notice(check, customer), event(check, customer)].compactMap { $0 },
                    at: now(), by: .system("domain proofs"))
                if check.event == .verified || check.event == .suspended {
                    changed += 1
                    logger.info("domains: \(check.event!.rawValue)", metadata: ["customer": "\(customer.id)", "domain": "\(domain.domain)"])
                }
            }
        }
        return changed
    }

    func isDue(_ domain: CustomerDomain) -> Bool {
        guard !domain.isProvedByHand else { return false }
        switch domain.state {
        case .pending, .suspended: return true
        case .verified:
            guard domain.failingSince == nil, let checked = domain.checkedAt else { return true }
            return now().timeIntervalSince(checked) >= recheckAfter
        }
    }

    func find(_ domain: CustomerDomain) async -> DomainProofCheck.Finding {
        do {
            return try await lookup("_meridian.\(domain.domain)").contains(domain.proofRecord) ? .found : .missing
        } catch {
            return .noAnswer
        }
    }

    /// The `domain.unverified` event for the customer's events URL, when it has one: when a routed domain's record is
    /// first missed (`proof_missing`: still routed until the grace ends), and when the domain is suspended.
    func event(_ check: DomainProofCheck, _ customer: CustomerRecord) -> Notification? {
        guard customer.eventsURL != nil, let reason = check.event, reason == .proofMissing || reason == .suspended else { return nil }
        let date = now()
        let domain = check.domain
        let event = DeliveryEvent(.domainUnverified, at: date, data: [
            ("customer_id", customer.id), ("domain", domain.domain), ("state", domain.state.rawValue),
            ("reason", reason == .suspended ? "suspended" : "proof_missing"), ("failing_since", domain.failingSince.map(ISOTime.string)),
            ("suspends_at", reason == .proofMissing ? ISOTime.string((domain.failingSince ?? date).addingTimeInterval(grace)) : nil),
            ("record", "_meridian.\(domain.domain) TXT \"\(domain.proofRecord)\""),
        ])
        return Notification(
            id: event.id, customerID: customer.id, channel: .events, eventType: DeliveryEvent.Kind.domainUnverified.rawValue,
            subject: "\(domain.domain) is unverified", body: String(decoding: event.json(), as: UTF8.self), createdAt: date)
    }

    /// The e-mail a customer gets when a routed domain's record is first missed, and when the domain is suspended.
    func notice(_ check: DomainProofCheck, _ customer: CustomerRecord) -> Notification? {
        let domain = check.domain
        let date = now()
        let subject: String
        let text: String
        switch check.event {
        case .proofMissing:
            let deadline = (domain.failingSince ?? date).addingTimeInterval(grace)
            subject = "Action needed: the ownership record of \(domain.domain) is missing"
            text = """
                We could not find the ownership record of \(domain.domain) in DNS:

                    _meridian.\(domain.domain)  TXT  "\(domain.proofRecord)"

                Publish it again by \(ISOTime.string(deadline)). After that we stop accepting mail for \(domain.domain) until the
                record is back, so that no one else can receive mail for a domain that has left your control.
                """
        case .suspended:
            subject = "Mail for \(domain.domain) is no longer accepted"
            text = """
                The ownership record of \(domain.domain) has been missing since \(ISOTime.string(domain.failingSince ?? date)), so we no
                longer accept mail for it. Publish it again and mail is accepted within the hour (or at once, when you check
                your DNS records on your account page or with GET /v1/customers/\(customer.id)/dns/check):

                    _meridian.\(domain.domain)  TXT  "\(domain.proofRecord)"
                """
        default:
            return nil
        }
        return Notification(
            id: ResourceID.make(prefix: "ntf", at: date), customerID: customer.id, channel: .email, eventType: check.event!.rawValue,
            subject: subject, body: "Hello \(customer.name),\n\n\(text)\n\n\(service.name)\n", createdAt: date)
    }
}

import Foundation

/// What one DNS check of a domain's ownership record changes: the rules of ``DomainProofJob`` and of the API's
/// check, in one place.
public struct DomainProofCheck: Sendable, Hashable {
    /// What the check found: the record, its absence, or no answer (which changes nothing).
    public enum Finding: Sendable, Hashable { case found, missing, noAnswer }

    /// What happened to the domain, as the audit log and the customer's notice name it.
    public enum Event: String, Sendable {
        case verified = "domain.verified"
        case proofMissing = "domain.proof_missing"
        case proofRestored = "domain.proof_restored"
        case suspended = "domain.suspended"
    }

    public var domain: CustomerDomain
    public var event: Event?

    /// The domain after a check that found `finding` at `date`; a verified domain whose proof is missing is
    /// suspended once it has been missing for `grace`.
    public init(_ before: CustomerDomain, finding: Finding, at date: Date, grace: TimeInterval) {
        var domain = before
        event = nil
        guard finding != .noAnswer else {
            self.domain = domain
            return
        }
        domain.checkedAt = date
        switch (before.state, finding) {
        case (.pending, .found), (.suspended, .found):
            domain.state = .verified
            domain.verifiedAt = date
            domain.verifiedBy = "dns"
            domain.failingSince = nil
            event = .verified
        case (.verified, .found):
            if before.failingSince != nil { event = .proofRestored }
            domain.failingSince = nil
            if before.verifiedBy == "migration" {
                domain.verifiedBy = "dns"
                domain.verifiedAt = date
            }
        case (.verified, .missing):
            if let since = before.failingSince {
                if date.timeIntervalSince(since) >= grace {
                    domain.state = .suspended
                    event = .suspended
                }
            } else {
                domain.failingSince = date
                event = .proofMissing
            }
        case (.pending, .missing), (.suspended, .missing), (_, .noAnswer):
            break
        }
        self.domain = domain
    }
}

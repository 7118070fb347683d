import Foundation
import MeridianCore

extension CustomerRepository {
    /// Records the ownership records a DNS check (`checks`) found for `record`'s domains: a pending or suspended
    /// domain is verified, a routed domain's missing-record clock stops. A record not found changes nothing here
    /// (``DomainProofJob`` applies the grace period). Returns the account as it is now.
    func recordFoundProofs(_ record: CustomerRecord, _ checks: [DNSDomainCheck], at date: Date, by actor: AuditActor) async throws -> CustomerRecord {
        guard record.status == .active else { return record }
        var current = record
        for check in checks where check.ownership == .verified {
            guard let domain = current.domains.first(where: { $0.domain == check.domain }), !domain.isProvedByHand else { continue }
            let next = DomainProofCheck(domain, finding: .found, at: date, grace: .infinity)
            guard next.domain != domain else { continue }
            current = try await saveDomainProof(record.id, next.domain, event: next.event, detail: ["by": "dns check"], notices: [], at: date, by: actor)
        }
        return current
    }
}

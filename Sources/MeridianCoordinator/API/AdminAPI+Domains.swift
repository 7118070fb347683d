import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

/// A customer's domains: what DNS says about them, and their ownership proofs.
extension AdminAPI {
    /// Looks up every domain's MX and ownership records now; an ownership record found is recorded (a pending or
    /// suspended domain is verified, a routed domain's missing-record clock stops). Nothing is taken away here:
    /// ``DomainProofJob`` applies the grace period.
    func checkCustomerDNS(_ request: Operations.CheckCustomerDNS.Input) async throws -> Operations.CheckCustomerDNS.Output {
        let found = try await customer(request.path.customerId)
        try await recordRead("customer.dns.check", of: found.id)
        let results = await resolver.check(domains: found.domains, pin: found.region, catalog: catalog)
        let record = try await customers.recordFoundProofs(found, results, at: now(), by: try caller.actor)
        let states = Dictionary(record.domains.map { ($0.domain, $0.state) }, uniquingKeysWith: { a, _ in a })
        return .ok(.init(body: .json(.init(
            customerId: record.id, region: record.region?.rawValue, mxHost: catalog.mxHost(for: record.region), resolver: resolver.description,
            checkedAt: now(),
            domains: results.map { result in
                Components.Schemas.DNSDomainCheck(
                    domain: result.domain, status: .init(rawValue: result.status.rawValue) ?? .lookupFailed, mxHosts: result.mxHosts,
                    mxRegion: result.mxRegion?.rawValue, ownership: .init(rawValue: result.ownership.rawValue) ?? .lookupFailed,
                    detail: result.detail, proof: states[result.domain].flatMap { .init(rawValue: $0.rawValue) })
            }))))
    }

    /// An operator's verification of a domain whose owner cannot publish the TXT record: routed from the next
    /// config version, left alone by DNS re-checks, audited with the reason.
    func verifyCustomerDomain(_ request: Operations.VerifyCustomerDomain.Input) async throws -> Operations.VerifyCustomerDomain.Output {
        let record = try await customer(request.path.customerId)
        guard case .json(let body) = request.body else { throw Problem.invalid("body", "expected a JSON object with a reason") }
        let reason = try input.reason(body.reason)
        guard let reason else { throw Problem.invalid("reason", "reason must not be empty: it is kept in the audit log") }
        let name = request.path.domain.lowercased()
        guard var domain = record.domains.first(where: { $0.domain == name }) else {
            throw Problem.notFound("\(record.id) has no domain \(request.path.domain); add it to the account first")
        }
        guard record.status == .active else { throw Problem.conflict("customer \(record.id) is closed; reopen it first") }
        let caller = try caller
        let date = now()
        (domain.state, domain.verifiedAt, domain.verifiedBy, domain.failingSince) = (.verified, date, "operator:\(caller.token.id)", nil)
        let updated = try await customers.saveDomainProof(
            record.id, domain, event: .verified, detail: ["by": "operator", "reason": reason], notices: [], at: date, by: caller.actor)
        return .ok(.init(body: .json(.init(updated, grace: domainGrace))))
    }
}

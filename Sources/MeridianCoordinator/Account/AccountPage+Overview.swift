import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

/// The overview: the account's region with a form to change it, its domains with a form to change them, the DNS
/// records to set and the result of a live DNS check.
extension AccountPage {
    func registerOverview(on router: Router<CoordinatorRequestContext>) {
        router.get("/account") { request, context in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            let notice = try await sessions.takeNotice(signedIn.session)
            // The live check: an ownership record it finds proves its domain, as the API's check does.
            let checks = await resolver.check(domains: signedIn.customer.domains, pin: signedIn.customer.region, catalog: catalog)
            let customer = try await customers.recordFoundProofs(signedIn.customer, checks, at: now(), by: signedIn.actor(context))
            return page("account", AccountView(customer, checks: checks, signedIn: signedIn, notice: notice, catalog: catalog, resolver: resolver))
        }
        router.post("/account/region") { request, context in
            try await change(RegionForm.self, request, context) { signedIn, form, actor in
                let input = CustomerInput(catalog: catalog)
                let choice = form.region ?? ""
                let region = try input.region(choice == "none" ? nil : choice)
                let reason = try input.reason((form.reason ?? "").isEmpty ? "changed on the account page" : form.reason)
                guard let record = try await customers.find(signedIn.customer.id), record.status == .active else {
                    return .init(text: "The account is closed; reopen it before changing its region.", isError: true)
                }
                guard record.region != region else { return .init(text: "The region was already \(Self.regionName(region, catalog)).", isError: false) }
                _ = try await customers.setRegion(record.id, to: region, reason: reason, at: now(), by: actor)
                return .init(
                    text: "Region changed to \(Self.regionName(region, catalog)). Update your MX records as shown below.", isError: false)
            }
        }
        router.post("/account/domains") { request, context in
            try await change(DomainsForm.self, request, context) { signedIn, form, actor in
                let list = (form.domains ?? "").split(whereSeparator: { $0.isNewline || $0 == "," || $0 == " " })
                    .map { String($0).lowercased() }
                var changes = CustomerChanges()
                changes.domains = try CustomerInput(catalog: catalog).domains(list)
                _ = try await customers.update(signedIn.customer.id, changes, at: now(), by: actor)
                return .init(text: "Domains saved. Publish the DNS records below for any new domain.", isError: false)
            }
        }
    }
}

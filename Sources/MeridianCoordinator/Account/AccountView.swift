import MeridianCore

/// What `Templates/account.mustache` shows of a signed-in customer's account: its region with the choices, its
/// domains, the DNS records to set and a live DNS check of each domain.
struct AccountView {
    struct Choice {
        var value: String
        var name: String
        var checked: Bool
    }

    struct Record {
        var name: String
        var kind: String
        var priority: String
        var value: String
        var purpose: String
    }

    struct Check {
        var domain: String
        var status: String
        var statusText: String
        /// The domain's ownership proof: pending, verified or suspended.
        var proof: String
        var mxHosts: String
        var detail: String
    }

    var notice: AccountSessions.Notice?
    var csrf: String
    var nav: AccountNav
    var id: String
    var name: String
    var closed: Bool
    var regionID: String
    var regionName: String
    var mxHost: String
    var regions: [Choice]
    var domains: String
    var records: [Record]
    var resolver: String
    var checks: [Check]

    /// - Parameter checks: the live DNS check of the account's domains, whose found proofs `customer` already has.
    init(
        _ customer: CustomerRecord, checks: [DNSDomainCheck], signedIn: AccountPage.SignedIn, notice: AccountSessions.Notice?, catalog: RegionCatalog,
        resolver: DNSResolver
    ) {
        let plan = DNSRecordPlan(pin: customer.region, catalog: catalog, domains: customer.domains.map { ($0.domain, $0.verificationToken) })
        let proofs = Dictionary(customer.domains.map { ($0.domain, $0.state.rawValue) }, uniquingKeysWith: { a, _ in a })
        self.notice = notice
        csrf = signedIn.session.csrf
        nav = AccountNav(signedIn, current: .overview)
        id = customer.id
        name = customer.name
        closed = customer.status == .closed
        regionID = customer.region?.rawValue ?? "none"
        regionName = AccountPage.regionName(customer.region, catalog)
        mxHost = plan.mxHost
        regions = ([nil] + catalog.regions.map { Optional($0.id) }).map { id in
            Choice(value: id?.rawValue ?? "none", name: AccountPage.regionName(id, catalog), checked: id == customer.region)
        }
        domains = customer.domains.map(\.domain).joined(separator: "\n")
        records = plan.records.map { record in
            Record(name: record.name, kind: record.kind.rawValue, priority: record.priority.map(String.init) ?? "", value: record.value, purpose: record.purpose)
        }
        self.resolver = resolver.description
        self.checks = checks.map { check in
            Check(
                domain: check.domain, status: check.status.rawValue, statusText: check.status.rawValue.replacingOccurrences(of: "_", with: " "),
                proof: proofs[check.domain] ?? "pending",
                mxHosts: check.mxHosts.isEmpty ? "none" : check.mxHosts.joined(separator: ", "), detail: check.detail)
        }
    }
}

/// The dashboard's navigation and who is signed in, on every page (`Templates/account-nav.mustache`).
struct AccountNav {
    enum Section: String { case overview, messages, settings, privacy, security, people }

    struct Link {
        var href: String
        var title: String
        var current: Bool
    }

    var links: [Link]
    var userName: String
    var userEmail: String
    var role: String
    var csrf: String

    init(_ signedIn: AccountPage.SignedIn, current: Section) {
        links = [
            Link(href: "/account", title: "Overview", current: current == .overview),
            Link(href: "/account/messages", title: "Messages", current: current == .messages),
            Link(href: "/account/settings", title: "Settings", current: current == .settings),
            Link(href: "/account/privacy", title: "Privacy", current: current == .privacy),
            Link(href: "/account/security", title: "Security", current: current == .security),
            Link(href: "/account/people", title: "People", current: current == .people),
        ]
        userName = signedIn.user.name
        userEmail = signedIn.user.email
        role = signedIn.user.role.rawValue
        csrf = signedIn.session.csrf
    }
}

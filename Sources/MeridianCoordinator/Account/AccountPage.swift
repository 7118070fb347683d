import Foundation
import Hummingbird
import MeridianCore

/// `/account`: the customer's own page, server-rendered HTML that needs no JavaScript.
///
/// A customer signs in with its API key (a customer token) and gets a session cookie for 30 minutes
/// (`HttpOnly`, `SameSite=Strict`, `Path=/account`, and `Secure` when the request came over HTTPS, directly or
/// as `X-Forwarded-Proto: https` from the proxy in front). Every form carries the session's CSRF token. The
/// page shows the account's region with a form to change it, its domains with a form to change them, the DNS
/// records to set, and the result of a live DNS check. Changes go through the same repository as the API, so
/// they are audited and reach the nodes as a new config version.
struct AccountPage: Sendable {
    let customers: any CustomerRepository
    let tokens: any TokenRepository
    let audit: any AuditLog
    let catalog: RegionCatalog
    let resolver: DNSResolver
    let sessions: AccountSessions
    let now: @Sendable () -> Date

    static let cookie = "meridian_account"

    func register(on router: Router<CoordinatorRequestContext>) {
        router.get("/account") { request, _ in
            guard let (session, customer) = try await current(request) else { return page(signIn(notice: nil)) }
            let notice = await sessions.takeNotice(session.id)
            return page(await accountBody(customer, session: session, notice: notice))
        }
        router.post("/account/sign-in") { request, context in
            let form = try await Self.form(request)
            let secret = (form["api_key"] ?? "").trimmingCharacters(in: .whitespaces)
            guard BearerToken.isWellFormed(secret), let token = try await tokens.find(secretHash: BearerToken.hash(of: secret)),
                token.isActive(at: now())
            else {
                return page(signIn(notice: .init(text: "That API key is not valid, or it was revoked or has expired.", isError: true)), status: .unauthorized)
            }
            guard token.role == .customer, let customerID = token.customerID else {
                return page(signIn(notice: .init(
                    text: "This page is for customers: sign in with your account's API key. Operator tokens use the admin API and the meridian CLI.",
                    isError: true)), status: .forbidden)
            }
            let session = await sessions.create(tokenID: token.id, customerID: customerID)
            try await audit.record(
                AuditEvent("account.sign_in", target: customerID, detail: ["token_id": token.id]),
                by: AuditActor(id: token.id, role: token.role.rawValue, sourceIP: context.remoteAddress?.ipAddress ?? "-"), at: now())
            var attributes = "Path=/account; HttpOnly; SameSite=Strict; Max-Age=\(Int(AccountSessions.lifetime))"
            if Self.isHTTPS(request) { attributes += "; Secure" }
            return Response(status: .seeOther, headers: [.location: "/account", .setCookie: "\(Self.cookie)=\(session.id); \(attributes)"])
        }
        router.post("/account/region") { request, context in
            try await change(request, context) { session, form, actor in
                let input = CustomerInput(catalog: catalog)
                let choice = form["region"] ?? ""
                let region = try input.region(choice == "none" ? nil : choice)
                let reason = try input.reason((form["reason"] ?? "").isEmpty ? "changed on the account page" : form["reason"])
                guard let record = try await customers.find(session.customerID), record.status == .active else {
                    return .init(text: "The account is closed; reopen it before changing its region.", isError: true)
                }
                guard record.region != region else { return .init(text: "The region was already \(Self.regionName(region, catalog)).", isError: false) }
                _ = try await customers.setRegion(session.customerID, to: region, reason: reason, at: now(), by: actor)
                return .init(
                    text: "Region changed to \(Self.regionName(region, catalog)). Update your MX records as shown below.", isError: false)
            }
        }
        router.post("/account/domains") { request, context in
            try await change(request, context) { session, form, actor in
                let list = (form["domains"] ?? "").split(whereSeparator: { $0.isNewline || $0 == "," || $0 == " " })
                    .map { String($0).lowercased() }
                var changes = CustomerChanges()
                changes.domains = try CustomerInput(catalog: catalog).domains(list)
                _ = try await customers.update(session.customerID, changes, at: now(), by: actor)
                return .init(text: "Domains saved. Publish the DNS records below for any new domain.", isError: false)
            }
        }
        router.post("/account/sign-out") { request, _ in
            if let (session, _) = try await current(request) {
                let form = try await Self.form(request)
                guard ConstantTime.equal(Array((form["csrf"] ?? "").utf8), Array(session.csrf.utf8)) else { return forgedForm() }
                await sessions.end(session.id)
            }
            return Response(status: .seeOther, headers: [.location: "/account", .setCookie: "\(Self.cookie)=; Path=/account; HttpOnly; SameSite=Strict; Max-Age=0"])
        }
    }

    /// Runs a form's change for the signed-in customer after checking the CSRF token, keeps its outcome as the
    /// next page's notice, and sends the browser back to `/account` (post, redirect, get).
    private func change(
        _ request: Request, _ context: CoordinatorRequestContext,
        _ body: (AccountSessions.Session, [String: String], AuditActor) async throws -> AccountSessions.Notice
    ) async throws -> Response {
        guard let (session, _) = try await current(request) else {
            return Response(status: .seeOther, headers: [.location: "/account"])
        }
        let form = try await Self.form(request)
        guard ConstantTime.equal(Array((form["csrf"] ?? "").utf8), Array(session.csrf.utf8)) else { return forgedForm() }
        let actor = AuditActor(id: session.tokenID, role: Role.customer.rawValue, sourceIP: context.remoteAddress?.ipAddress ?? "-")
        let notice: AccountSessions.Notice
        do {
            notice = try await body(session, form, actor)
        } catch {
            notice = .init(text: ProblemMiddleware.problem(for: error).detail, isError: true)
        }
        await sessions.setNotice(session.id, notice)
        return Response(status: .seeOther, headers: [.location: "/account"])
    }

    /// A form whose CSRF token is not this session's (forged, or from a page older than the session): a 403
    /// page that changes nothing.
    private func forgedForm() -> Response {
        page(
            """
            <h1>Nothing was changed</h1>
            \(Self.notice(.init(
                text: "The form's CSRF token does not match your session, so it was refused. It may come from another site, or from a page opened before you last signed in.",
                isError: true)))
            <p><a href="/account">Back to your account</a></p>
            """, status: .forbidden)
    }

    /// The session of the request's cookie and its account, if the session and its token are still valid.
    private func current(_ request: Request) async throws -> (AccountSessions.Session, CustomerRecord)? {
        guard let id = Self.cookieValue(request), let session = await sessions.find(id) else { return nil }
        guard let token = try await tokens.find(id: session.tokenID), token.isActive(at: now()),
            let customer = try await customers.find(session.customerID)
        else {
            await sessions.end(id)
            return nil
        }
        return (session, customer)
    }

    // MARK: - Pages

    private func signIn(notice: AccountSessions.Notice?) -> String {
        """
        <h1>Sign in to your account</h1>
        \(Self.notice(notice))
        <form method="post" action="/account/sign-in" id="sign-in">
          <label for="api_key">API key</label>
          <input type="password" id="api_key" name="api_key" autocomplete="current-password" required>
          <p class="hint">Your account's API key (a customer token from your operator). You stay signed in for 30 minutes.</p>
          <button type="submit">Sign in</button>
        </form>
        """
    }

    private func accountBody(_ customer: CustomerRecord, session: AccountSessions.Session, notice: AccountSessions.Notice?) async -> String {
        let csrf = "<input type=\"hidden\" name=\"csrf\" value=\"\(Self.escape(session.csrf))\">"
        let plan = DNSRecordPlan(pin: customer.region, catalog: catalog, domains: customer.domains.map { ($0.domain, $0.verificationToken) })
        let checks = await resolver.check(domains: customer.domains, pin: customer.region, catalog: catalog)
        let options = ([nil] + catalog.regions.map { Optional($0.id) }).map { id -> String in
            let value = id?.rawValue ?? "none"
            let checked = id == customer.region ? " checked" : ""
            return "<label class=\"choice\"><input type=\"radio\" name=\"region\" value=\"\(value)\"\(checked)> \(Self.escape(Self.regionName(id, catalog)))</label>"
        }.joined(separator: "\n      ")
        let records = plan.records.map { record in
            "<tr><td>\(Self.escape(record.name))</td><td>\(record.kind.rawValue)</td><td>\(record.priority.map(String.init) ?? "")</td>"
                + "<td><code>\(Self.escape(record.value))</code></td><td>\(Self.escape(record.purpose))</td></tr>"
        }.joined(separator: "\n      ")
        let results = checks.map { check in
            "<tr data-domain=\"\(Self.escape(check.domain))\" data-status=\"\(check.status.rawValue)\"><td>\(Self.escape(check.domain))</td>"
                + "<td class=\"status \(check.status.rawValue)\">\(check.status.rawValue.replacingOccurrences(of: "_", with: " "))</td>"
                + "<td>\(Self.escape(check.mxHosts.isEmpty ? "none" : check.mxHosts.joined(separator: ", ")))</td><td>\(Self.escape(check.detail))</td></tr>"
        }.joined(separator: "\n      ")
        return """
            <h1>\(Self.escape(customer.name))</h1>
            \(Self.notice(notice))
            <dl>
              <dt>Account</dt><dd><code>\(Self.escape(customer.id))</code>\(customer.status == .closed ? " (closed)" : "")</dd>
              <dt>Region</dt><dd id="current-region" data-region="\(customer.region?.rawValue ?? "none")">\(Self.escape(Self.regionName(customer.region, catalog)))</dd>
              <dt>Mail goes to</dt><dd><code id="mx-host">\(Self.escape(plan.mxHost))</code></dd>
            </dl>
            <section>
              <h2>Region</h2>
              <p class="hint">Pinned, your mail is received, processed and its metadata kept in that region only. Unpinned, the nearest region takes it.</p>
              <form method="post" action="/account/region" id="region-form">
                \(csrf)
                <fieldset><legend>Process my mail in</legend>
                  \(options)
                </fieldset>
                <label for="reason">Reason (kept in the audit log)</label>
                <input type="text" id="reason" name="reason" maxlength="500">
                <button type="submit">Change region</button>
              </form>
            </section>
            <section>
              <h2>Domains</h2>
              <form method="post" action="/account/domains" id="domains-form">
                \(csrf)
                <label for="domains">One domain per line</label>
                <textarea id="domains" name="domains" rows="4">\(Self.escape(customer.domains.map(\.domain).joined(separator: "\n")))</textarea>
                <button type="submit">Save domains</button>
              </form>
            </section>
            <section>
              <h2>DNS records to set</h2>
              <table id="dns-records">
                <thead><tr><th>Name</th><th>Type</th><th>Priority</th><th>Value</th><th>Why</th></tr></thead>
                <tbody>
                  \(records.isEmpty ? "<tr><td colspan=\"5\">Add a domain first.</td></tr>" : records)
                </tbody>
              </table>
            </section>
            <section>
              <h2>DNS check</h2>
              <p class="hint">Looked up just now through \(Self.escape(resolver.description)). Changes to DNS can take a while to be seen.</p>
              <table id="dns-check">
                <thead><tr><th>Domain</th><th>Status</th><th>MX found</th><th>What to do</th></tr></thead>
                <tbody>
                  \(results.isEmpty ? "<tr><td colspan=\"4\">No domains.</td></tr>" : results)
                </tbody>
              </table>
            </section>
            <form method="post" action="/account/sign-out" id="sign-out">\(csrf)<button type="submit" class="quiet">Sign out</button></form>
            """
    }

    private func page(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Your account · Meridian</title>
            <style>
            body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1c2430; background: #f6f7f9; }
            main { max-width: 52rem; margin: 2rem auto; padding: 1.5rem 2rem; background: #fff; border: 1px solid #dde1e6; border-radius: 8px; }
            h1 { margin-top: 0; } h2 { margin-top: 2rem; font-size: 1.2rem; }
            dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; } dt { color: #5a6472; } dd { margin: 0; }
            label { display: block; margin-top: .75rem; } .choice { display: inline-block; margin-right: 1rem; }
            input[type=text], input[type=password], textarea { width: 100%; max-width: 30rem; padding: .4rem; font: inherit; }
            button { margin-top: .75rem; padding: .4rem 1rem; font: inherit; border-radius: 4px; border: 1px solid #2a5bd7; background: #2a5bd7; color: #fff; }
            button.quiet { background: #fff; color: #2a5bd7; }
            table { border-collapse: collapse; width: 100%; font-size: .9rem; } th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
            code { font-size: .85rem; word-break: break-all; } .hint { color: #5a6472; font-size: .9rem; }
            .notice { padding: .5rem .75rem; border-radius: 4px; background: #e8f3ea; } .notice.error { background: #fbe9e9; }
            .status.verified { color: #1d7a35; } .status.missing, .status.wrong_region, .status.lookup_failed { color: #b42318; font-weight: 600; }
            </style>
            </head>
            <body><main>
            \(body)
            </main></body>
            </html>
            """
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                .init("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    // MARK: - Helpers

    static func notice(_ notice: AccountSessions.Notice?) -> String {
        guard let notice else { return "" }
        return "<p class=\"notice\(notice.isError ? " error" : "")\" id=\"notice\" role=\"status\">\(escape(notice.text))</p>"
    }

    static func regionName(_ id: RegionID?, _ catalog: RegionCatalog) -> String {
        guard let id else { return "Not pinned (nearest region)" }
        guard let region = catalog.region(id) else { return id.rawValue }
        return "\(region.name) (\(id.rawValue), \(region.location))"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func isHTTPS(_ request: Request) -> Bool {
        request.uri.scheme == .https || request.headers[.init("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    static func cookieValue(_ request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == cookie { return String(parts[1]) }
            }
        }
        return nil
    }

    /// An `application/x-www-form-urlencoded` body (at most 64 KB).
    static func form(_ request: Request) async throws -> [String: String] {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw Problem(.unsupportedMediaType, "send the form as application/x-www-form-urlencoded")
        }
        let body = try await request.body.collect(upTo: 64 << 10)
        var fields: [String: String] = [:]
        for pair in String(buffer: body).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}

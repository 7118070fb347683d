import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

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
    let throttle: SignInThrottle
    /// Seals a rotated webhook secret.
    let secrets: SecretBox
    let now: @Sendable () -> Date

    static let cookie = "meridian_account"
    /// The sign-in form's CSRF cookie.
    static let signInCookie = "meridian_sign_in"

    func register(on router: Router<CoordinatorRequestContext>) {
        router.get("/account") { request, context in
            guard let (session, found) = try await current(request) else { return signInPage(request, notice: nil) }
            let notice = await sessions.takeNotice(session.id)
            // The live check: an ownership record it finds proves its domain, as the API's check does.
            let checks = await resolver.check(domains: found.domains, pin: found.region, catalog: catalog)
            let actor = AuditActor(id: session.tokenID, role: Role.customer.rawValue, sourceIP: context.remoteAddress?.ipAddress ?? "-")
            let customer = try await customers.recordFoundProofs(found, checks, at: now(), by: actor)
            return page("account", AccountView(customer, checks: checks, session: session, notice: notice, catalog: catalog, resolver: resolver))
        }
        router.post("/account/sign-in") { request, context in
            let form = try await Self.form(SignInForm.self, request)
            // Login CSRF: the form must carry the value of the cookie the sign-in page set (double submit), which
            // another site can neither read nor set.
            guard let expected = request.cookies[Self.signInCookie]?.value, !expected.isEmpty,
                ConstantTime.equal(Array((form.csrf ?? "").utf8), Array(expected.utf8))
            else {
                let notice = AccountSessions.Notice(text: "The sign-in form has expired or did not come from this page; sign in again.", isError: true)
                return signInPage(request, notice: notice, status: .forbidden)
            }
            let secret = form.apiKey.trimmingCharacters(in: .whitespaces)
            let address = context.remoteAddress?.ipAddress ?? "-"
            if let wait = await throttle.attempt(from: address, key: secret) {
                let notice = AccountSessions.Notice(text: "Too many sign-in attempts; try again in \(wait) seconds.", isError: true)
                var response = signInPage(request, notice: notice, status: .tooManyRequests)
                response.headers[.retryAfter] = String(wait)
                return response
            }
            guard BearerToken.isWellFormed(secret), let token = try await tokens.find(secretHash: BearerToken.hash(of: secret)),
                token.isActive(at: now())
            else {
                await throttle.failed(key: secret)
                let notice = AccountSessions.Notice(text: "That API key is not valid, or it was revoked or has expired.", isError: true)
                return signInPage(request, notice: notice, status: .unauthorized)
            }
            guard token.role == .customer, let customerID = token.customerID else {
                await throttle.failed(key: secret)
                let notice = AccountSessions.Notice(
                    text: "This page is for customers: sign in with your account's API key. Operator tokens use the admin API and the meridian CLI.",
                    isError: true)
                return signInPage(request, notice: notice, status: .forbidden)
            }
            guard let session = await sessions.create(tokenID: token.id, customerID: customerID) else {
                let notice = AccountSessions.Notice(text: "The page has too many people signed in just now; try again in a few minutes.", isError: true)
                return signInPage(request, notice: notice, status: .serviceUnavailable)
            }
            try await audit.record(
                AuditEvent("account.sign_in", target: customerID, detail: ["token_id": token.id]),
                by: AuditActor(id: token.id, role: token.role.rawValue, sourceIP: context.remoteAddress?.ipAddress ?? "-"), at: now())
            var response = Response(status: .seeOther, headers: [.location: "/account"])
            response.setCookie(try Self.sessionCookie(session.id, maxAge: Int(AccountSessions.lifetime), secure: Self.isHTTPS(request)))
            return response
        }
        router.post("/account/region") { request, context in
            try await change(RegionForm.self, request, context) { session, form, actor in
                let input = CustomerInput(catalog: catalog)
                let choice = form.region ?? ""
                let region = try input.region(choice == "none" ? nil : choice)
                let reason = try input.reason((form.reason ?? "").isEmpty ? "changed on the account page" : form.reason)
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
            try await change(DomainsForm.self, request, context) { session, form, actor in
                let list = (form.domains ?? "").split(whereSeparator: { $0.isNewline || $0 == "," || $0 == " " })
                    .map { String($0).lowercased() }
                var changes = CustomerChanges()
                changes.domains = try CustomerInput(catalog: catalog).domains(list)
                _ = try await customers.update(session.customerID, changes, at: now(), by: actor)
                return .init(text: "Domains saved. Publish the DNS records below for any new domain.", isError: false)
            }
        }
        router.post("/account/webhook-secret") { request, context in
            try await change(SecretRotationForm.self, request, context) { session, form, actor in
                guard let hours = Int(form.overlap ?? "24"), (0...168).contains(hours) else {
                    return .init(text: "The overlap must be a number of hours from 0 to 168.", isError: true)
                }
                let secret = WebhookSecret.generate()
                let date = now()
                let until = hours == 0 ? nil : date.addingTimeInterval(Double(hours) * 3600)
                _ = try await customers.rotateWebhookSecret(session.customerID, to: try secrets.seal(secret), overlapUntil: until, at: date, by: actor)
                let overlap = until.map { "Your old secret keeps signing until \(ISOTime.string($0)): give your receiver the new one before then." }
                    ?? "Your old secret no longer signs."
                return .init(text: "Your new webhook secret, shown this once: \(secret). \(overlap)", isError: false)
            }
        }
        router.post("/account/sign-out") { request, _ in
            if let (session, _) = try await current(request) {
                let form = try await Self.form(SignOutForm.self, request)
                guard Self.matches(form.csrf, session) else { return forgedForm() }
                await sessions.end(session.id)
            }
            var response = Response(status: .seeOther, headers: [.location: "/account"])
            response.setCookie(try Self.sessionCookie("", maxAge: 0, secure: false))
            return response
        }
    }

    /// Runs a form's change for the signed-in customer after checking the CSRF token, keeps its outcome as the
    /// next page's notice, and sends the browser back to `/account` (post, redirect, get).
    private func change<Form: AccountForm>(
        _ type: Form.Type, _ request: Request, _ context: CoordinatorRequestContext,
        _ body: (AccountSessions.Session, Form, AuditActor) async throws -> AccountSessions.Notice
    ) async throws -> Response {
        guard let (session, _) = try await current(request) else {
            return Response(status: .seeOther, headers: [.location: "/account"])
        }
        let form = try await Self.form(Form.self, request)
        guard Self.matches(form.csrf, session) else { return forgedForm() }
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

    /// The sign-in page with a fresh sign-in CSRF token, in its form and in a cookie only this site can set.
    private func signInPage(_ request: Request, notice: AccountSessions.Notice?, status: HTTPResponse.Status = .ok) -> Response {
        let token = AccountSessions.random()
        var response = page("account-sign-in", SignInPage(notice: notice, csrf: token), status: status)
        if let cookie = try? Cookie.validated(
            name: Self.signInCookie, value: token, maxAge: Int(AccountSessions.lifetime), path: "/account", secure: Self.isHTTPS(request), httpOnly: true,
            sameSite: .strict)
        {
            response.setCookie(cookie)
        }
        return response
    }

    /// A form whose CSRF token is not this session's (forged, or from a page older than the session): a 403
    /// page that changes nothing.
    private func forgedForm() -> Response {
        let notice = AccountSessions.Notice(
            text: "The form's CSRF token does not match your session, so it was refused. It may come from another site, or from a page opened before you last signed in.",
            isError: true)
        return page("account-refused", SignInPage(notice: notice, csrf: ""), status: .forbidden)
    }

    /// The session of the request's cookie and its account, if the session and its token are still valid.
    private func current(_ request: Request) async throws -> (AccountSessions.Session, CustomerRecord)? {
        guard let id = request.cookies[Self.cookie]?.value, !id.isEmpty, let session = await sessions.find(id) else { return nil }
        guard let token = try await tokens.find(id: session.tokenID), token.isActive(at: now()),
            let customer = try await customers.find(session.customerID)
        else {
            await sessions.end(id)
            return nil
        }
        return (session, customer)
    }

    // MARK: - Pages

    /// A page from its template, never cached, under a policy that allows no scripts and forms only to this site.
    private func page(_ template: String, _ view: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                .init("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(string: PageTemplates.library.render(view, withTemplate: template) ?? "")))
    }

    // MARK: - Helpers

    static func regionName(_ id: RegionID?, _ catalog: RegionCatalog) -> String {
        guard let id else { return "Not pinned (nearest region)" }
        guard let region = catalog.region(id) else { return id.rawValue }
        return "\(region.name) (\(id.rawValue), \(region.location))"
    }

    static func isHTTPS(_ request: Request) -> Bool {
        request.uri.scheme == .https || request.headers[.init("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// The session cookie: `HttpOnly`, `SameSite=Strict`, for `/account` only, and `Secure` over HTTPS.
    static func sessionCookie(_ value: String, maxAge: Int, secure: Bool) throws -> Cookie {
        try Cookie.validated(name: cookie, value: value, maxAge: maxAge, path: "/account", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// Whether a form's CSRF token is the session's, compared in constant time.
    static func matches(_ csrf: String?, _ session: AccountSessions.Session) -> Bool {
        ConstantTime.equal(Array((csrf ?? "").utf8), Array(session.csrf.utf8))
    }

    /// An `application/x-www-form-urlencoded` body (at most 64 KB) as `Form`.
    static func form<Form: Decodable>(_ type: Form.Type, _ request: Request) async throws -> Form {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw Problem(.unsupportedMediaType, "send the form as application/x-www-form-urlencoded")
        }
        let body = try await request.body.collect(upTo: 64 << 10)
        do {
            return try URLEncodedFormDecoder().decode(Form.self, from: String(buffer: body))
        } catch {
            throw Problem(.badRequest, "the form is not the one this page sends; reload /account and try again")
        }
    }
}

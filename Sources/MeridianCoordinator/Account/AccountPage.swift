import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

/// `/account`: the customer's dashboard, server-rendered HTML that needs no JavaScript.
///
/// People sign in with their e-mail address and password (bcrypt) and, when they turned it on, a TOTP code or a
/// recovery code; they join an account through an invitation. A session is a cookie (`HttpOnly`,
/// `SameSite=Strict`, `Path=/account`, and `Secure` when the request came over HTTPS, directly or as
/// `X-Forwarded-Proto: https` from the proxy in front) naming a row of the database (``AccountSessions``). Every
/// form carries the session's CSRF token. Changes go through the same repositories as the API, so they are
/// audited (as the user) and reach the nodes as a new config version.
///
/// The pages: the overview (region, domains, webhook secret, DNS records and a live DNS check;
/// `AccountPage+Overview`), the message log (`AccountPage+Messages`), settings (`AccountPage+Settings`), sign-in and invitations (`AccountPage+SignIn`), the user's own security
/// (`AccountPage+Security`) and the account's people (`AccountPage+People`).
struct AccountPage: Sendable {
    let customers: any CustomerRepository
    let tokens: any TokenRepository
    let audit: any AuditLog
    let grants: any AccessGrantRepository
    /// Sub-processors, objections and DPAs.
    let registry: SubProcessorRegistry
    /// Renders the DPA annex, as the API does.
    let site: PublicSite
    /// A new objection or a withdrawn one changes what the nodes may run.
    let publisher: ConfigPublisher
    let catalog: RegionCatalog
    let resolver: DNSResolver
    let sessions: AccountSessions
    let people: AccountPeople
    let invitations: AccountInvitations
    /// Asks the regions' nodes for messages, one message's attempts, redeliveries and the quarantine.
    let fleet: NodeFleet
    /// Sign-in through the operator's OpenID Connect provider, when one is configured.
    let oidc: OIDCSignIn?
    /// Posts the sample message of a test delivery.
    let testDelivery: TestDelivery
    /// Where webhooks may point (the deployment's rules).
    let egress: EgressPolicy
    let passwords: AccountSecrets
    let throttle: SignInThrottle
    /// Seals a rotated webhook secret, TOTP secrets and pending forms.
    let secrets: SecretBox
    let now: @Sendable () -> Date

    static let cookie = "meridian_account"
    /// The CSRF cookie of the forms used before there is a session (sign-in, invitation).
    static let signInCookie = "meridian_sign_in"
    /// The sealed state of a sign-in through the OpenID Connect provider, between the redirect and the way back.
    static let oidcCookie = "meridian_oidc"

    /// Who is signed in: the session, the user and their account.
    struct SignedIn: Sendable {
        var session: AccountSessions.Session
        var user: AccountUser
        var customer: CustomerRecord

        func actor(_ context: CoordinatorRequestContext) -> AuditActor {
            AuditActor(id: user.id, role: Role.customer.rawValue, sourceIP: context.remoteAddress?.ipAddress ?? "-")
        }
    }

    func register(on router: Router<CoordinatorRequestContext>) {
        registerSignIn(on: router)
        registerOverview(on: router)
        registerMessages(on: router)
        registerSettings(on: router)
        registerPrivacy(on: router)
        registerSecurity(on: router)
        registerPeople(on: router)
    }

    /// Runs a form's change for the signed-in user after checking the CSRF token, keeps its outcome as the next
    /// page's notice, and sends the browser back to `back` (post, redirect, get). `body` may return nil to answer
    /// with a page of its own instead (a secret shown once).
    func change<Form: AccountForm>(
        _ type: Form.Type, _ request: Request, _ context: CoordinatorRequestContext, back: String = "/account", ownersOnly: Bool = false,
        _ body: (SignedIn, Form, AuditActor) async throws -> AccountSessions.Notice
    ) async throws -> Response {
        guard let signedIn = try await current(request) else {
            return Response(status: .seeOther, headers: [.location: "/account"])
        }
        let form = try await Self.form(Form.self, request)
        guard Self.matches(form.csrf, signedIn.session) else { return forgedForm() }
        let notice: AccountSessions.Notice
        if ownersOnly && signedIn.user.role != .owner {
            notice = .init(text: "Only the account's owners can manage its people.", isError: true)
        } else {
            do {
                notice = try await body(signedIn, form, signedIn.actor(context))
            } catch {
                notice = .init(text: ProblemMiddleware.problem(for: error).detail, isError: true)
            }
        }
        try await sessions.setNotice(signedIn.session, notice)
        return Response(status: .seeOther, headers: [.location: .init(back)])
    }

    /// The fully signed-in user of the request's cookie, if the session, the user and the account still exist.
    func current(_ request: Request) async throws -> SignedIn? {
        guard let session = try await session(request), !session.secondFactorDue else { return nil }
        return try await signedIn(session)
    }

    /// The request's session, whatever its state.
    func session(_ request: Request) async throws -> AccountSessions.Session? {
        guard let id = request.cookies[Self.cookie]?.value, !id.isEmpty else { return nil }
        return try await sessions.find(id)
    }

    func signedIn(_ session: AccountSessions.Session) async throws -> SignedIn? {
        guard let user = try await people.user(session.userID), let customer = try await customers.find(user.customerID) else {
            try await sessions.end(session)
            return nil
        }
        return SignedIn(session: session, user: user, customer: customer)
    }

    // MARK: - Pages

    /// A page from its template, never cached, under a policy that allows no scripts and forms only to this site.
    func page(_ template: String, _ view: Any, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                .init("Referrer-Policy")!: "no-referrer",
            ],
            body: .init(byteBuffer: ByteBuffer(string: PageTemplates.library.render(view, withTemplate: template) ?? "")))
    }

    /// A form whose CSRF token is not this session's (forged, or from a page older than the session): a 403
    /// page that changes nothing.
    func forgedForm() -> Response {
        let notice = AccountSessions.Notice(
            text: "The form's CSRF token does not match your session, so it was refused. It may come from another site, or from a page opened before you last signed in.",
            isError: true)
        return page("account-refused", NoticePage(notice: notice, csrf: ""), status: .forbidden)
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

/// A page that shows a notice and, for the forms used before there is a session, their CSRF token.
struct NoticePage {
    var notice: AccountSessions.Notice?
    /// The value of the sign-in cookie, repeated in the form.
    var csrf: String
    /// The OpenID Connect provider's name, for the sign-in page's button.
    var oidcName: String? = nil
}

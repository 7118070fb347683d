import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

/// Signing in and out, the second factor, and joining an account through an invitation.
///
/// A wrong address, password or code all get the same answer, so the page tells nobody which addresses have
/// users; attempts are limited per client address, per e-mail address and per user (``SignInThrottle``).
extension AccountPage {
    /// The sign-in form, and the answer to every failed sign-in.
    static let wrongCredentials = "That e-mail address, password or code is not right."

    func registerSignIn(on router: Router<CoordinatorRequestContext>) {
        router.post("/account/sign-in") { request, context in
            let form = try await Self.form(SignInForm.self, request)
            guard Self.signInCSRFMatches(request, form.csrf) else { return expiredForm(request) }
            let email = (form.email ?? "").trimmingCharacters(in: .whitespaces).lowercased()
            let address = context.remoteAddress?.ipAddress ?? "-"
            if let wait = await throttle.attempt(from: address, key: "email:\(email)") { return tooMany(request, wait) }
            let user = try await people.user(email: email)
            guard try await passwords.verify(form.password ?? "", hash: user?.passwordHash), let user else {
                await throttle.failed(key: "email:\(email)")
                return signInPage(request, notice: .init(text: Self.wrongCredentials, isError: true), status: .unauthorized)
            }
            let session = try await sessions.create(userID: user.id, customerID: user.customerID, secondFactorDue: user.hasSecondFactor)
            if !user.hasSecondFactor { try await recordSignIn(user, context, method: "password") }
            return redirect(to: "/account", session: session, request)
        }
        router.post("/account/oidc/start") { request, _ in
            let form = try await Self.form(PlainForm.self, request)
            guard Self.signInCSRFMatches(request, form.csrf) else { return expiredForm(request) }
            guard let oidc else { return signInPage(request, notice: .init(text: "Sign-in through a provider is not set up here.", isError: true), status: .notFound) }
            let started: (url: String, pending: OIDCSignIn.Pending)
            do {
                started = try await oidc.start(at: now())
            } catch {
                return signInPage(request, notice: .init(text: "Sign-in with \(oidc.settings.name) is not available now: \(error)", isError: true), status: .badGateway)
            }
            var response = Response(status: .seeOther, headers: [.location: .init(started.url)])
            let sealed = try secrets.seal(String(decoding: try JSONEncoder().encode(started.pending), as: UTF8.self))
            // Lax, not Strict: the browser must send it on the provider's redirect back, a navigation from another site.
            response.setCookie(
                try Cookie.validated(
                    name: Self.oidcCookie, value: sealed, maxAge: Int(OIDCSignIn.window), path: "/account/oidc", secure: Self.isHTTPS(request), httpOnly: true,
                    sameSite: .lax))
            return response
        }
        router.get("/account/oidc/callback") { request, context in
            guard let oidc else { return Response(status: .seeOther, headers: [.location: "/account"]) }
            let name = oidc.settings.name
            let query = request.uri.queryParameters
            func refused(_ reason: String, _ status: HTTPResponse.Status = .unauthorized) -> Response {
                var response = signInPage(request, notice: .init(text: "Sign-in with \(name) did not work: \(reason).", isError: true), status: status)
                if let gone = Self.oidcCookieGone { response.setCookie(gone) }
                return response
            }
            if let error = query.get("error") { return refused("the provider answered \(String(error.prefix(100)))") }
            guard let sealed = request.cookies[Self.oidcCookie]?.value, let opened = try? secrets.open(sealed),
                let pending = try? JSONDecoder().decode(OIDCSignIn.Pending.self, from: Data(opened.utf8)), pending.expires > now()
            else { return refused("the sign-in took too long or did not start here; try again", .badRequest) }
            guard let state = query.get("state"), ConstantTime.equal(Array(state.utf8), Array(pending.state.utf8)), let code = query.get("code") else {
                return refused("the answer is not for this sign-in", .badRequest)
            }
            let identity: OIDCSignIn.Identity
            do {
                identity = try await oidc.finish(code: String(code), pending: pending, at: now())
            } catch {
                return refused("\(error)")
            }
            let actorIP = context.remoteAddress?.ipAddress ?? "-"
            var user = try await people.user(oidcSubject: identity.subject)
            if user == nil, let byEmail = try await people.user(email: identity.email), byEmail.oidcSubject == nil {
                // The first sign-in through the provider: the verified address of an invited user ties them together.
                try await people.link(byEmail.id, oidcSubject: identity.subject, at: now(), by: AuditActor(id: byEmail.id, role: Role.customer.rawValue, sourceIP: actorIP))
                user = byEmail
            }
            guard let user else {
                return refused("\(identity.email) is not a user of any account here; ask an owner of yours to invite that address", .forbidden)
            }
            let session = try await sessions.create(userID: user.id, customerID: user.customerID, secondFactorDue: user.hasSecondFactor)
            if !user.hasSecondFactor { try await recordSignIn(user, context, method: "oidc") }
            var response = redirect(to: "/account", session: session, request)
            if let gone = Self.oidcCookieGone { response.setCookie(gone) }
            return response
        }
        router.post("/account/sign-in/code") { request, context in
            guard let session = try await session(request), session.secondFactorDue, let signedIn = try await signedIn(session) else {
                return Response(status: .seeOther, headers: [.location: "/account"])
            }
            let form = try await Self.form(CodeForm.self, request)
            guard Self.matches(form.csrf, session) else { return forgedForm() }
            let user = signedIn.user
            if let wait = await throttle.attempt(from: context.remoteAddress?.ipAddress ?? "-", key: "code:\(user.id)") {
                try await sessions.end(session)
                return tooMany(request, wait)
            }
            let code = form.code ?? ""
            var method: String?
            if let sealed = user.totpSecretSealed, let step = AccountSecrets.totpStep(for: code, secret: try secrets.open(sealed), at: now()) {
                // A code is good once: a second use of the same step (or an older one) is refused.
                if try await people.takeStep(user.id, step) { method = "password+totp" }
            } else if try await people.useRecoveryCode(user.id, hash: AccountSecrets.digest(AccountSecrets.normalizedRecoveryCode(code)), at: now()) {
                method = "password+recovery_code"
            }
            guard let method else {
                await throttle.failed(key: "code:\(user.id)")
                return page("account-code", NoticePage(notice: .init(text: Self.wrongCredentials, isError: true), csrf: session.csrf), status: .unauthorized)
            }
            let full = try await sessions.completeSecondFactor(session)
            try await recordSignIn(user, context, method: method)
            return redirect(to: "/account", session: full, request)
        }
        router.post("/account/sign-out") { request, _ in
            if let session = try await session(request) {
                let form = try await Self.form(PlainForm.self, request)
                guard Self.matches(form.csrf, session) else { return forgedForm() }
                try await sessions.end(session)
            }
            var response = Response(status: .seeOther, headers: [.location: "/account"])
            response.setCookie(try Self.sessionCookie("", maxAge: 0, secure: false))
            return response
        }
        router.get("/account/invitations/{token}") { request, context in
            let token = try context.parameters.require("token")
            guard let invitation = try await openInvitation(token) else { return closedInvitation(request) }
            return try await invitationPage(request, invitation, notice: nil)
        }
        router.post("/account/invitations/{token}") { request, context in
            let token = try context.parameters.require("token")
            let form = try await Self.form(InvitationForm.self, request)
            guard Self.signInCSRFMatches(request, form.csrf) else { return expiredForm(request) }
            guard let invitation = try await openInvitation(token) else { return closedInvitation(request) }
            let name = (form.name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let password = form.password ?? ""
            var problem: String?
            if name.isEmpty || name.count > 200 || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                problem = "Give your name (up to 200 characters)."
            } else if let weak = AccountSecrets.passwordProblem(password, email: invitation.email) {
                problem = weak
            } else if password != form.passwordAgain {
                problem = "The two passwords are not the same."
            }
            if let problem { return try await invitationPage(request, invitation, notice: .init(text: problem, isError: true), status: .unprocessableContent) }
            let user: AccountUser
            do {
                user = try await people.accept(
                    tokenHash: AccountSecrets.digest(token), name: name, passwordHash: try await passwords.hash(password), at: now(),
                    sourceIP: context.remoteAddress?.ipAddress ?? "-")
            } catch let error as RepositoryError {
                return try await invitationPage(request, invitation, notice: .init(text: ProblemMiddleware.problem(for: error).detail, isError: true), status: .conflict)
            }
            let session = try await sessions.create(userID: user.id, customerID: user.customerID, secondFactorDue: false)
            try await sessions.setNotice(session, .init(text: "Welcome, \(user.name). You can turn on a second factor under Security.", isError: false))
            return redirect(to: "/account", session: session, request)
        }
    }

    /// The page for `GET /account` without a full session: the code form while a second factor is due, else the
    /// sign-in form.
    func signInOrCodePage(_ request: Request) async throws -> Response {
        if let session = try await session(request), session.secondFactorDue {
            return page("account-code", NoticePage(notice: nil, csrf: session.csrf))
        }
        return signInPage(request, notice: nil)
    }

    private func recordSignIn(_ user: AccountUser, _ context: CoordinatorRequestContext, method: String) async throws {
        try await audit.record(
            AuditEvent("account.sign_in", target: user.customerID, detail: ["user_id": user.id, "method": method]),
            by: AuditActor(id: user.id, role: Role.customer.rawValue, sourceIP: context.remoteAddress?.ipAddress ?? "-"), at: now())
    }

    private func openInvitation(_ token: String) async throws -> AccountInvitation? {
        guard token.count <= 100, let invitation = try await people.invitation(tokenHash: AccountSecrets.digest(token)), invitation.isOpen(at: now())
        else { return nil }
        return invitation
    }

    private func invitationPage(_ request: Request, _ invitation: AccountInvitation, notice: AccountSessions.Notice?, status: HTTPResponse.Status = .ok) async throws
        -> Response
    {
        let account = try await customers.find(invitation.customerID)?.name ?? invitation.customerID
        return withSignInCSRF(request) { csrf in
            page(
                "account-invitation",
                InvitationPage(
                    notice: notice, csrf: csrf, email: invitation.email, account: account, role: invitation.role.rawValue,
                    expires: ISOTime.string(invitation.expiresAt), minimum: AccountSecrets.passwordMinimum), status: status)
        }
    }

    private func closedInvitation(_ request: Request) -> Response {
        let notice = AccountSessions.Notice(
            text: "This invitation link has expired, was used already, or is not one of ours. Ask an owner of the account for a new one.", isError: true)
        return page("account-refused", NoticePage(notice: notice, csrf: ""), status: .notFound)
    }

    /// The sign-in page with a fresh sign-in CSRF token, in its form and in a cookie only this site can set.
    func signInPage(_ request: Request, notice: AccountSessions.Notice?, status: HTTPResponse.Status = .ok) -> Response {
        withSignInCSRF(request) { csrf in page("account-sign-in", NoticePage(notice: notice, csrf: csrf, oidcName: oidc?.settings.name), status: status) }
    }

    private func expiredForm(_ request: Request) -> Response {
        signInPage(request, notice: .init(text: "The form has expired or did not come from this page; try again.", isError: true), status: .forbidden)
    }

    private func tooMany(_ request: Request, _ wait: Int) -> Response {
        var response = signInPage(request, notice: .init(text: "Too many sign-in attempts; try again in \(wait) seconds.", isError: true), status: .tooManyRequests)
        response.headers[.retryAfter] = String(wait)
        return response
    }

    private func redirect(to location: String, session: AccountSessions.Session, _ request: Request) -> Response {
        var response = Response(status: .seeOther, headers: [.location: .init(location)])
        let maxAge = Int(session.expires.timeIntervalSince(now()).rounded())
        if let cookie = try? Self.sessionCookie(session.id, maxAge: maxAge, secure: Self.isHTTPS(request)) { response.setCookie(cookie) }
        return response
    }

    /// A page whose form is used before there is a session: login CSRF is stopped by a token in the form that must
    /// equal a cookie only this site can set (double submit).
    private func withSignInCSRF(_ request: Request, _ make: (String) -> Response) -> Response {
        let token = AccountSessions.random()
        var response = make(token)
        if let cookie = try? Cookie.validated(
            name: Self.signInCookie, value: token, maxAge: 3600, path: "/account", secure: Self.isHTTPS(request), httpOnly: true, sameSite: .strict)
        {
            response.setCookie(cookie)
        }
        return response
    }

    /// The OpenID Connect cookie, cleared.
    static var oidcCookieGone: Cookie? {
        try? Cookie.validated(name: oidcCookie, value: "", maxAge: 0, path: "/account/oidc", secure: false, httpOnly: true, sameSite: .lax)
    }

    static func signInCSRFMatches(_ request: Request, _ csrf: String?) -> Bool {
        guard let expected = request.cookies[signInCookie]?.value, !expected.isEmpty else { return false }
        return ConstantTime.equal(Array((csrf ?? "").utf8), Array(expected.utf8))
    }
}

/// `Templates/account-invitation.mustache`.
struct InvitationPage {
    var notice: AccountSessions.Notice?
    var csrf: String
    var email: String
    var account: String
    var role: String
    var expires: String
    var minimum: Int
}

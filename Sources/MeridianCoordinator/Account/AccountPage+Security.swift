import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

/// The signed-in user's own security: their password, and the TOTP second factor with its recovery codes.
extension AccountPage {
    func registerSecurity(on router: Router<CoordinatorRequestContext>) {
        router.get("/account/security") { request, _ in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            let notice = try await sessions.takeNotice(signedIn.session)
            return page("account-security", try await securityView(signedIn, notice: notice))
        }
        router.post("/account/security/password") { request, context in
            try await change(PasswordForm.self, request, context, back: "/account/security") { signedIn, form, actor in
                guard try await passwords.verify(form.current ?? "", hash: signedIn.user.passwordHash) else {
                    return .init(text: "Your current password is not right; nothing was changed.", isError: true)
                }
                let password = form.password ?? ""
                if let problem = AccountSecrets.passwordProblem(password, email: signedIn.user.email) { return .init(text: problem, isError: true) }
                guard password == form.passwordAgain else { return .init(text: "The two new passwords are not the same.", isError: true) }
                try await people.setPassword(
                    signedIn.user.id, hash: try await passwords.hash(password), keeping: signedIn.session.id, at: now(), by: actor)
                return .init(text: "Password changed. You were signed out everywhere else.", isError: false)
            }
        }
        router.post("/account/security/second-factor") { request, context in
            guard let signedIn = try await current(request) else { return Response(status: .seeOther, headers: [.location: "/account"]) }
            let form = try await Self.form(SecondFactorForm.self, request)
            guard Self.matches(form.csrf, signedIn.session) else { return forgedForm() }
            // The secret the page showed comes back sealed, bound to this user: it cannot be swapped for another.
            guard !signedIn.user.hasSecondFactor, let pending = form.pending, let opened = try? secrets.open(pending),
                opened.hasPrefix(signedIn.user.id + " ")
            else {
                try await sessions.setNotice(signedIn.session, .init(text: "Reload the page and try again.", isError: true))
                return Response(status: .seeOther, headers: [.location: "/account/security"])
            }
            let secret = String(opened.dropFirst(signedIn.user.id.count + 1))
            guard let step = AccountSecrets.totpStep(for: form.code ?? "", secret: secret, at: now()) else {
                let notice = AccountSessions.Notice(
                    text: "That code is not the one your app shows now; check its clock and type the current code.", isError: true)
                return page("account-security", try await securityView(signedIn, notice: notice, pending: (pending, secret)), status: .unprocessableContent)
            }
            let codes = AccountSecrets.newRecoveryCodes()
            try await people.enableSecondFactor(
                signedIn.user.id, secretSealed: try secrets.seal(secret), step: step, recoveryHashes: codes.map(AccountSecrets.digest), at: now(),
                by: signedIn.actor(context))
            // Shown once, on this page and not through a redirect.
            return page("account-recovery-codes", RecoveryCodesView(nav: AccountNav(signedIn, current: .security), codes: codes))
        }
        router.post("/account/security/second-factor/off") { request, context in
            try await change(SecondFactorOffForm.self, request, context, back: "/account/security") { signedIn, form, actor in
                guard try await passwords.verify(form.password ?? "", hash: signedIn.user.passwordHash) else {
                    return .init(text: "Your password is not right; the second factor stays on.", isError: true)
                }
                try await people.disableSecondFactor(signedIn.user.id, at: now(), by: actor)
                return .init(text: "The second factor is off, and your recovery codes no longer work.", isError: false)
            }
        }
    }

    /// The security page; without a second factor, with a new secret to set one up (or `pending`, the one shown
    /// before, sealed and in the clear).
    private func securityView(_ signedIn: SignedIn, notice: AccountSessions.Notice?, pending: (sealed: String, secret: String)? = nil) async throws
        -> SecurityView
    {
        var view = SecurityView(
            nav: AccountNav(signedIn, current: .security), notice: notice, csrf: signedIn.session.csrf, email: signedIn.user.email,
            hasSecondFactor: signedIn.user.hasSecondFactor, recoveryCodesLeft: try await people.unusedRecoveryCodes(signedIn.user.id),
            minimum: AccountSecrets.passwordMinimum)
        if !signedIn.user.hasSecondFactor {
            let secret = pending?.secret ?? AccountSecrets.newTOTPSecret()
            view.setup = .init(
                pending: try pending?.sealed ?? secrets.seal(signedIn.user.id + " " + secret), key: AccountSecrets.manualKey(secret: secret),
                uri: AccountSecrets.authenticatorURI(secret: secret, email: signedIn.user.email))
        }
        return view
    }
}

/// `Templates/account-security.mustache`.
struct SecurityView {
    struct Setup {
        /// The secret sealed to the user, sent back with the code.
        var pending: String
        /// The key to type into an app, in groups of four.
        var key: String
        var uri: String
    }

    var nav: AccountNav
    var notice: AccountSessions.Notice?
    var csrf: String
    var email: String
    var hasSecondFactor: Bool
    var recoveryCodesLeft: Int
    var minimum: Int
    var setup: Setup?
}

/// `Templates/account-recovery-codes.mustache`: shown once.
struct RecoveryCodesView {
    var nav: AccountNav
    var codes: [String]
}

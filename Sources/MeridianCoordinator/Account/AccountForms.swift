/// The forms of the dashboard, as `application/x-www-form-urlencoded` bodies. Every one carries a CSRF token:
/// the session's, or for the forms used before there is a session (sign-in, invitation), the value of the
/// sign-in cookie (double submit).
protocol AccountForm: Decodable {
    var csrf: String? { get }
}

/// `POST /account/sign-in`.
struct SignInForm: AccountForm {
    var csrf: String?
    var email: String?
    var password: String?
}

/// `POST /account/sign-in/code`: a TOTP code or a recovery code.
struct CodeForm: AccountForm {
    var csrf: String?
    var code: String?
}

/// `POST /account/invitations/{token}`: the new user's name and password.
struct InvitationForm: AccountForm {
    var csrf: String?
    var name: String?
    var password: String?
    var passwordAgain: String?

    enum CodingKeys: String, CodingKey {
        case csrf, name, password
        case passwordAgain = "password_again"
    }
}

/// `POST /account/security/password`.
struct PasswordForm: AccountForm {
    var csrf: String?
    var current: String?
    var password: String?
    var passwordAgain: String?

    enum CodingKeys: String, CodingKey {
        case csrf, current, password
        case passwordAgain = "password_again"
    }
}

/// `POST /account/security/second-factor`: the sealed secret the page showed, and a code from the app.
struct SecondFactorForm: AccountForm {
    var csrf: String?
    var pending: String?
    var code: String?
}

/// `POST /account/security/second-factor/off`, which asks for the password again.
struct SecondFactorOffForm: AccountForm {
    var csrf: String?
    var password: String?
}

/// `POST /account/people/invite`.
struct InviteForm: AccountForm {
    var csrf: String?
    var email: String?
    var role: String?
}

/// `POST /account/region`: a region id, or `none` to unpin, and why.
struct RegionForm: AccountForm {
    var csrf: String?
    var region: String?
    var reason: String?
}

/// `POST /account/domains`: one domain a line (commas and spaces also part them).
struct DomainsForm: AccountForm {
    var csrf: String?
    var domains: String?
}

/// `POST /account/webhook-secret`: a new webhook secret, the old one signing beside it for `overlap` hours.
struct SecretRotationForm: AccountForm {
    var csrf: String?
    var overlap: String?
}

/// Forms that carry nothing but their CSRF token: sign out, remove a user.
struct PlainForm: AccountForm {
    var csrf: String?
}

import MeridianCore

/// What the sign-in page (and the page of a refused form) shows: a notice, if any.
struct SignInPage {
    var notice: AccountSessions.Notice?
    /// The value of the sign-in cookie, repeated in the form.
    var csrf: String
}

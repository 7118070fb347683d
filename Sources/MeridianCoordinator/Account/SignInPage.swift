import MeridianCore

/// What the sign-in page (and the page of a refused form) shows: a notice, if any.
struct SignInPage {
    var notice: AccountSessions.Notice?
}

/// A form of the account page that changes something: it carries the session's CSRF token.
protocol AccountForm: Decodable {
    var csrf: String? { get }
}

/// `POST /account/sign-in`.
struct SignInForm: Decodable {
    var apiKey: String

    enum CodingKeys: String, CodingKey { case apiKey = "api_key" }
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

/// `POST /account/sign-out`.
struct SignOutForm: AccountForm {
    var csrf: String?
}

/// `POST /account/sign-in`.
struct SignInForm: Decodable {
    var apiKey: String
    /// The sign-in form's own CSRF token, which must equal its cookie's (``AccountPage/signInCookie``).
    var csrf: String?

    enum CodingKeys: String, CodingKey {
        case apiKey = "api_key"
        case csrf
    }
}

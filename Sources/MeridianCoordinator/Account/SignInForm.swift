/// `POST /account/sign-in`.
struct SignInForm: Decodable {
    var apiKey: String

    enum CodingKeys: String, CodingKey { case apiKey = "api_key" }
}

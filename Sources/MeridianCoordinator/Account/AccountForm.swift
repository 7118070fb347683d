/// A form of the account page that changes something: it carries the session's CSRF token.
protocol AccountForm: Decodable {
    var csrf: String? { get }
}

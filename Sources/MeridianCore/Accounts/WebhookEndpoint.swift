import Foundation

/// A customer's webhook URL: absolute `https` (or `http`, for endpoints on a private network), with a host,
/// no user info and no fragment, at most 2048 characters.
public struct WebhookEndpoint: Sendable, Hashable {
    public let url: String

    public init?(_ text: String) {
        guard text.utf8.count <= 2048, let components = URLComponents(string: text),
            let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http",
            let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil, components.fragment == nil
        else { return nil }
        self.url = text
    }

    /// A URL as a customer gives it, which may carry HTTP Basic credentials as user info
    /// (`https://user:pass@host/path`, as CloudMailin recommends for receivers): the URL without them, and the
    /// credentials (`user:password`, percent-decoded) apart, to be kept sealed and sent as `Authorization`.
    public enum Split: Sendable, Equatable {
        case endpoint(WebhookEndpoint, credentials: String?)
        /// Not an http(s) URL with a host, or it has a fragment.
        case notAURL
        /// The user info is not usable credentials: the reason, which never repeats them.
        case badCredentials(String)
    }

    public static func split(_ text: String) -> Split {
        guard text.utf8.count <= 2048, var components = URLComponents(string: text) else { return .notAURL }
        let user = components.user
        let password = components.password
        components.percentEncodedUser = nil
        components.percentEncodedPassword = nil
        guard let bare = components.string, let endpoint = WebhookEndpoint(bare) else { return .notAURL }
        guard user != nil || password != nil else { return .endpoint(endpoint, credentials: nil) }
        let credentials = "\(user ?? ""):\(password ?? "")"
        if let problem = credentialsProblem(credentials) { return .badCredentials(problem) }
        return .endpoint(endpoint, credentials: credentials)
    }

    /// Why `user:password` cannot be sent as HTTP Basic credentials (RFC 7617), or nil when it can.
    public static func credentialsProblem(_ credentials: String) -> String? {
        guard let colon = credentials.firstIndex(of: ":"), colon != credentials.startIndex else {
            return "the user info needs a user name (https://user:password@host/)"
        }
        guard credentials.utf8.count <= 512 else { return "the user name and password are longer than 512 bytes" }
        guard !credentials.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "the user name or password contains control characters"
        }
        return nil
    }
}

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
}

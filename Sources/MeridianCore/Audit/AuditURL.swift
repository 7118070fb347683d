import Foundation

/// A URL as the audit log keeps it: a webhook URL may carry a credential in its user info or its query string
/// (`https://user:pass@…`, `…?token=…`), and the audit log is read by auditors and kept for years. The user info
/// goes, each query value becomes `redacted`, and the fragment goes; the scheme, host, port, path and query names stay,
/// which is what a change needs to be recognised.
public enum AuditURL {
    public static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.host != nil else {
            // Not a URL the API would have taken; keep no part of it that could be a credential.
            return "(not a URL)"
        }
        components.user = nil
        components.password = nil
        components.fragment = nil
        if let items = components.queryItems, !items.isEmpty {
            components.queryItems = items.map { URLQueryItem(name: $0.name, value: $0.value == nil ? nil : "redacted") }
        }
        return components.string ?? ""
    }
}

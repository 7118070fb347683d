import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

/// Checks the values the schema cannot: names, addresses, domains, URLs and regions. Each failure is a 422
/// naming the field.
struct CustomerInput {
    let catalog: RegionCatalog
    /// The deployment's rules for where webhooks may point.
    var egress: EgressPolicy = .production

    func name(_ text: String, field: String = "name") throws -> String {
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw Problem.invalid(field, "\(field) must not be empty") }
        guard name.count <= 200 else { throw Problem.invalid(field, "\(field) is longer than 200 characters") }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Problem.invalid(field, "\(field) must not contain control characters")
        }
        return name
    }

    func email(_ text: String) throws -> String {
        guard let address = EmailAddress(text) else {
            throw Problem.invalid("contact_email", "\"\(text)\" is not a valid e-mail address (expected local@domain.tld)")
        }
        return address.description
    }

    func domains(_ list: [String]) throws -> [String] {
        guard list.count <= 100 else { throw Problem.invalid("domains", "at most 100 domains per account") }
        var seen = Set<String>()
        var result: [String] = []
        for (index, text) in list.enumerated() {
            guard let domain = DomainName(text) else {
                throw Problem.invalid("domains[\(index)]", DomainName.explainInvalid(text))
            }
            guard seen.insert(domain.value).inserted else {
                throw Problem.invalid("domains[\(index)]", "\(domain) is listed twice")
            }
            result.append(domain.value)
        }
        return result
    }

    /// An http(s) URL the deployment's egress policy allows: `https` in production, a host that is not a
    /// private, loopback, link-local or other non-public address in any of its spellings. User info in it is
    /// taken apart as HTTP Basic credentials, which no message (nor the audit log) ever repeats.
    func webhookURL(_ text: String) throws -> (url: String, credentials: String?) {
        let endpoint: WebhookEndpoint
        let credentials: String?
        switch WebhookEndpoint.split(text) {
        case .endpoint(let found, let userInfo): (endpoint, credentials) = (found, userInfo)
        case .notAURL:
            throw Problem.invalid("webhook.url", "webhook.url must be an absolute http(s) URL with a host and no fragment, such as https://hooks.example.com/mail")
        case .badCredentials(let reason):
            throw Problem.invalid("webhook.url", "the URL's user info cannot be used as HTTP Basic credentials: \(reason)")
        }
        if let refusal = egress.refusal(forURL: endpoint.url) {
            throw Problem.invalid("webhook.url", "\(endpoint.url) is not allowed: \(refusal.reason) (rule: \(refusal.rule.rawValue))")
        }
        return (endpoint.url, credentials)
    }

    /// The changes of a new webhook URL, mode and format. Credentials in the URL replace the account's; the same URL
    /// without them keeps them (so a client may send back what it read); another URL drops them, so they never
    /// follow a URL to another host unasked. A format left out stays.
    func webhookChanges(url text: String, mode: DeliveryMode, format: PostFormat?, current: CustomerRecord, secrets: SecretBox) throws -> CustomerChanges {
        let url = try webhookURL(text)
        var changes = CustomerChanges()
        changes.webhookURL = url.url
        changes.webhookCredentialsSealed =
            try url.credentials.map(secrets.seal) ?? (url.url == current.webhookURL ? current.webhookCredentialsSealed : nil)
        changes.webhookMode = mode
        changes.postFormat = format
        return changes
    }

    /// An events URL as the webhook's (the egress rules hold), without user info: events are signed per Standard
    /// Webhooks; the empty string removes it.
    func eventsURL(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return "" }
        guard let endpoint = WebhookEndpoint(trimmed) else {
            throw Problem.invalid("events_url", "events_url must be an absolute http(s) URL with a host, without user info or fragment (events are signed per Standard Webhooks)")
        }
        if let refusal = egress.refusal(forURL: endpoint.url) {
            throw Problem.invalid("events_url", "\(endpoint.url) is not allowed: \(refusal.reason) (rule: \(refusal.rule.rawValue))")
        }
        return endpoint.url
    }

    func region(_ text: String?) throws -> RegionID? {
        guard let text else { return nil }
        guard let id = RegionID(text), catalog.region(id) != nil else {
            let known = catalog.regionIDs.map(\.rawValue).joined(separator: ", ")
            throw Problem.invalid("region", "unknown region \"\(text)\"; known regions are \(known), or null for unpinned")
        }
        return id
    }

    func redactions(_ fields: [Components.Schemas.MetadataField]?) -> [MetadataField] {
        var seen = Set<MetadataField>()
        return (fields ?? []).compactMap { MetadataField(rawValue: $0.rawValue) }.filter { seen.insert($0).inserted }
    }

    func reason(_ text: String?, field: String = "reason") throws -> String? {
        guard let text else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.count <= 500 else { throw Problem.invalid(field, "\(field) is longer than 500 characters") }
        return trimmed.isEmpty ? nil : trimmed
    }
}


import Foundation
import Hummingbird
import MeridianCore
import MeridianServer

/// Settings: the webhook (URL with optional Basic credentials, mode, POST format) with a test delivery, the
/// webhook secret's rotation, the metadata fields never to store, and the account's API tokens (owners).
extension AccountPage {
    func registerSettings(on router: Router<CoordinatorRequestContext>) {
        router.get("/account/settings") { request, _ in
            guard let signedIn = try await current(request) else { return try await signInOrCodePage(request) }
            let notice = try await sessions.takeNotice(signedIn.session)
            let tokens = signedIn.user.role == .owner ? try await self.tokens.list(customerID: signedIn.customer.id) : []
            return page("account-settings", SettingsView(signedIn, notice: notice, tokens: tokens, now: now()))
        }
        router.post("/account/settings/webhook") { request, context in
            try await change(WebhookForm.self, request, context, back: "/account/settings") { signedIn, form, actor in
                guard let mode = DeliveryMode(rawValue: form.mode ?? "") else { return .init(text: "Choose sync or queued.", isError: true) }
                guard let format = PostFormat(rawValue: form.format ?? "") else { return .init(text: "Choose one of the POST formats.", isError: true) }
                let changes = try CustomerInput(catalog: catalog, egress: egress).webhookChanges(
                    url: (form.url ?? "").trimmingCharacters(in: .whitespaces), mode: mode, format: format, current: signedIn.customer, secrets: secrets)
                let updated = try await customers.update(signedIn.customer.id, changes, at: now(), by: actor)
                let auth = updated.webhookCredentialsSealed == nil ? "without Basic credentials" : "with Basic credentials"
                return .init(text: "Webhook saved: \(updated.webhookURL), \(mode.rawValue), \(format.summary), \(auth). Send a test delivery to check it.", isError: false)
            }
        }
        router.post("/account/settings/events") { request, context in
            try await change(EventsForm.self, request, context, back: "/account/settings") { signedIn, form, actor in
                var changes = CustomerChanges()
                changes.eventsURL = try CustomerInput(catalog: catalog, egress: egress).eventsURL(form.url ?? "")
                _ = try await customers.update(signedIn.customer.id, changes, at: now(), by: actor)
                return .init(
                    text: changes.eventsURL == "" ? "No events URL: events are not posted." : "Events go to \(changes.eventsURL ?? "") from the next config version.",
                    isError: false)
            }
        }
        router.post("/account/settings/test") { request, context in
            try await change(PlainForm.self, request, context, back: "/account/settings") { signedIn, _, actor in
                let result = try await testDelivery.send(to: signedIn.customer)
                try await audit.record(
                    AuditEvent("customer.webhook.test", target: signedIn.customer.id, detail: [
                        "outcome": result.outcome.rawValue, "status_code": result.statusCode.map(String.init) ?? "none", "format": result.format.rawValue,
                    ]), by: actor, at: now())
                let status = result.statusCode.map { "answered \($0)" } ?? "did not answer"
                let answer = result.answer.isEmpty ? "" : ": \(result.answer)"
                return .init(
                    text: "Test delivery \(result.webhookID) (\(result.format.summary)): your endpoint \(status) in \(result.durationMilliseconds) ms\(answer)",
                    isError: result.outcome != .delivered)
            }
        }
        router.post("/account/settings/redactions") { request, context in
            let body = try await request.body.collect(upTo: 64 << 10)
            let fields = Set(AccountPage.formQuery(String(buffer: body)).keys.compactMap { $0.hasPrefix("redact_") ? MetadataField(rawValue: String($0.dropFirst(7))) : nil })
            return try await change(PlainForm.self, Self.replaying(request, body), context, back: "/account/settings") { signedIn, _, actor in
                var changes = CustomerChanges()
                changes.metadataRedactions = MetadataField.allCases.filter(fields.contains)
                _ = try await customers.update(signedIn.customer.id, changes, at: now(), by: actor)
                return .init(
                    text: fields.isEmpty
                        ? "Every metadata field is stored for new messages."
                        : "From the next message on, never stored: \(MetadataField.allCases.filter(fields.contains).map(\.rawValue).joined(separator: ", ")).",
                    isError: false)
            }
        }
        router.post("/account/webhook-secret") { request, context in
            try await change(SecretRotationForm.self, request, context, back: "/account/settings") { signedIn, form, actor in
                guard let hours = Int(form.overlap ?? "24"), (0...168).contains(hours) else {
                    return .init(text: "The overlap must be a number of hours from 0 to 168.", isError: true)
                }
                let secret = WebhookSecret.generate()
                let date = now()
                let until = hours == 0 ? nil : date.addingTimeInterval(Double(hours) * 3600)
                _ = try await customers.rotateWebhookSecret(signedIn.customer.id, to: try secrets.seal(secret), overlapUntil: until, at: date, by: actor)
                let overlap = until.map { "Your old secret keeps signing until \(ISOTime.string($0)): give your receiver the new one before then." }
                    ?? "Your old secret no longer signs."
                return .init(text: "Your new webhook secret, shown this once: \(secret). \(overlap)", isError: false)
            }
        }
        router.post("/account/settings/tokens") { request, context in
            try await change(TokenForm.self, request, context, back: "/account/settings", ownersOnly: true) { signedIn, form, actor in
                let name = try CustomerInput(catalog: catalog).name(form.name ?? "")
                var expires: Date?
                if let text = form.days, !text.isEmpty {
                    guard let days = Int(text), (1...3650).contains(days) else { return .init(text: "Days must be a whole number from 1 to 3650.", isError: true) }
                    expires = now().addingTimeInterval(Double(days) * 86_400)
                }
                let date = now()
                let secret = BearerToken.generate()
                try await tokens.create(
                    TokenRecord(
                        id: ResourceID.make(prefix: "tok", at: date), name: name, role: .customer, customerID: signedIn.customer.id, secretHash: secret.hash,
                        createdAt: date, createdBy: signedIn.user.id, expiresAt: expires, revokedAt: nil), by: actor)
                return .init(text: "API key \"\(name)\", shown this once: \(secret.secret)", isError: false)
            }
        }
        router.post("/account/settings/tokens/{token}/revoke") { request, context in
            let id = try context.parameters.require("token")
            return try await change(PlainForm.self, request, context, back: "/account/settings", ownersOnly: true) { signedIn, _, actor in
                // Only this account's own tokens: another account's id is "not found", never revoked.
                guard let token = try await tokens.find(id: id), token.customerID == signedIn.customer.id else {
                    return .init(text: "This account has no such API key.", isError: true)
                }
                _ = try await tokens.revoke(id, at: now(), by: actor)
                return .init(text: "API key \"\(token.name)\" revoked: programs using it are refused from now on.", isError: false)
            }
        }
    }

    /// A request whose body was read already, with that body again (the redaction form is read twice: once for
    /// its checkboxes, once for its CSRF token).
    static func replaying(_ request: Request, _ body: ByteBuffer) -> Request {
        var copy = request
        copy.body = .init(buffer: body)
        return copy
    }
}

/// `POST /account/settings/webhook`.
struct WebhookForm: AccountForm {
    var csrf: String?
    var url: String?
    var mode: String?
    var format: String?
}

/// `POST /account/settings/events`: the events URL, or empty for none.
struct EventsForm: AccountForm {
    var csrf: String?
    var url: String?
}

/// `POST /account/settings/tokens`: a new API key for programs.
struct TokenForm: AccountForm {
    var csrf: String?
    var name: String?
    var days: String?
}

/// `Templates/account-settings.mustache`.
struct SettingsView {
    struct Choice {
        var value: String
        var name: String
        var checked: Bool
    }

    struct Redaction {
        var field: String
        var meaning: String
        var checked: Bool
    }

    struct Token {
        var id: String
        var name: String
        var created: String
        var expires: String
        var state: String
        var active: Bool
    }

    var nav: AccountNav
    var notice: AccountSessions.Notice?
    var csrf: String
    var url: String
    var eventsURL: String
    var basicAuth: Bool
    var modes: [Choice]
    var formats: [Choice]
    var previousSecretUntil: String?
    var redactions: [Redaction]
    var isOwner: Bool
    var tokens: [Token]

    init(_ signedIn: AccountPage.SignedIn, notice: AccountSessions.Notice?, tokens: [TokenRecord], now: Date) {
        let customer = signedIn.customer
        nav = AccountNav(signedIn, current: .settings)
        self.notice = notice
        csrf = signedIn.session.csrf
        url = customer.webhookURL
        eventsURL = customer.eventsURL ?? ""
        basicAuth = customer.webhookCredentialsSealed != nil
        modes = DeliveryMode.allCases.map {
            Choice(
                value: $0.rawValue,
                name: $0 == .sync ? "sync: posted while the sender waits; your answer decides the SMTP reply" : "queued: accepted once spooled, then posted with retries",
                checked: $0 == customer.webhookMode)
        }
        formats = PostFormat.allCases.map { Choice(value: $0.rawValue, name: $0.summary, checked: $0 == customer.postFormat) }
        previousSecretUntil = customer.previousSecretExpiresAt.map(ISOTime.string)
        redactions = MetadataField.allCases.map { Redaction(field: $0.rawValue, meaning: Self.meaning($0), checked: customer.metadataRedactions.contains($0)) }
        isOwner = signedIn.user.role == .owner
        self.tokens = tokens.map { token in
            let active = token.isActive(at: now)
            return Token(
                id: token.id, name: token.name, created: ISOTime.string(token.createdAt), expires: token.expiresAt.map(ISOTime.string) ?? "never",
                state: token.revokedAt != nil ? "revoked" : active ? "active" : "expired", active: active)
        }
    }

    /// What a metadata field holds, for people choosing never to store it.
    static func meaning(_ field: MetadataField) -> String {
        switch field {
        case .senderIP: "the sending server's IP address (otherwise masked after the retention period on /privacy)"
        case .helo: "the name the sending server gave in HELO or EHLO"
        case .messageID: "the message's Message-ID header"
        case .envelopeFrom: "the envelope sender (SMTP MAIL FROM)"
        case .envelopeTo: "the envelope recipient (SMTP RCPT TO)"
        case .subject: "the Subject header"
        case .date: "the Date header as the sender wrote it"
        case .tls: "the TLS version and cipher of the connection"
        case .serverResponse: "your endpoint's answer to each delivery"
        case .authentication: "the SPF, DKIM and DMARC verdicts and the domains they name"
        }
    }
}

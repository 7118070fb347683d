import Foundation

/// How a message is POSTed to a customer's webhook, chosen per customer: CloudMailin's formats, or the
/// inbound-parse formats of the services customers move from, so that their receivers work unchanged.
/// Every format is signed per Standard Webhooks (the `webhook-*` headers) as well.
public enum PostFormat: String, Sendable, CaseIterable, Codable, Hashable {
    /// CloudMailin's JSON, normalised (`application/json`; the default).
    case json
    /// CloudMailin's multipart normalised: the same fields as form fields, attachments as files.
    case multipart
    /// CloudMailin's raw format: the message unaltered in the `message` field, with the envelope.
    case raw
    /// A Mailgun route's `forward()`: parsed fields, `attachment-N` files, and the `timestamp`, `token` and
    /// `signature` fields signed with the customer's webhook secret.
    case mailgun
    /// SendGrid Inbound Parse's default (parsed) format.
    case sendgrid
    /// Postmark's inbound webhook JSON.
    case postmark

    /// For people: what a receiver of this format expects.
    public var summary: String {
        switch self {
        case .json: "CloudMailin JSON (normalised)"
        case .multipart: "CloudMailin multipart/form-data (normalised)"
        case .raw: "CloudMailin raw message with its envelope"
        case .mailgun: "Mailgun route forward (multipart, HMAC-signed)"
        case .sendgrid: "SendGrid Inbound Parse (multipart)"
        case .postmark: "Postmark inbound (JSON)"
        }
    }
}

/// One delivery's body and its content type.
public struct WebhookBody: Sendable {
    public var contentType: String
    public var bytes: [UInt8]

    public init(contentType: String, bytes: [UInt8]) {
        self.contentType = contentType
        self.bytes = bytes
    }
}

/// What every format is made from: one recipient's envelope, the message as received (with the node's own
/// `Authentication-Results` field) and parsed, its decoded content, and what the node knows about it.
public struct WebhookMessage: Sendable {
    public var envelope: MessageEnvelope
    public var message: MIMEMessage
    public var content: MessageContent
    /// The config version the delivery is made under.
    public var configVersion: Int?
    public var analysis: WebhookPayload.Analysis?
    /// The delivery's stable id (`webhook-id`), which formats with an id of their own use too.
    public var webhookID: String

    public init(
        envelope: MessageEnvelope, message: MIMEMessage, content: MessageContent, configVersion: Int? = nil,
        analysis: WebhookPayload.Analysis? = nil, webhookID: String = ""
    ) {
        self.envelope = envelope
        self.message = message
        self.content = content
        self.configVersion = configVersion
        self.analysis = analysis
        self.webhookID = webhookID
    }

    /// The decoded value of the first header field named `name`.
    func header(_ name: String) -> String? { message.headers.first(named: name)?.value }

    /// A file name for a form part: the attachment's own, else `attachment-N` (receivers drop nameless files).
    static func fileName(of attachment: MessageContent.Attachment, _ index: Int) -> String {
        guard let name = attachment.fileName, !name.isEmpty else { return "attachment-\(index + 1)" }
        return name
    }
}

extension PostFormat {
    /// The body of one delivery in this format. `signingKey` is the customer's webhook secret, which the
    /// Mailgun format signs its fields with; `now` is the Mailgun `timestamp`.
    public func body(for input: WebhookMessage, signingKey: String, now: Date) -> WebhookBody {
        switch self {
        case .json:
            WebhookBody(
                contentType: "application/json",
                bytes: WebhookPayload.encode(
                    envelope: input.envelope, message: input.message, content: input.content, configVersion: input.configVersion,
                    analysis: input.analysis))
        case .multipart: CloudMailinForms.multipart(input)
        case .raw: CloudMailinForms.raw(input)
        case .mailgun:
            MailgunFormat.encode(input, signingKey: signingKey, timestamp: Int(now.timeIntervalSince1970), token: MailgunFormat.makeToken())
        case .sendgrid: SendGridFormat.encode(input)
        case .postmark: PostmarkFormat.encode(input)
        }
    }
}

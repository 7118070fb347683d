import Crypto
import Foundation

/// What a Mailgun route's `forward()` POSTs ("fully parsed"), which Mailgun receivers (django-anymail's
/// `MailgunInboundWebhookView` among them) read: `recipient` and `sender` from the envelope, `from`, `subject`,
/// `body-plain`, `body-html`, `stripped-text`, `message-headers` (a JSON list of `[name, value]`),
/// `attachment-count` with the files `attachment-1`..., `content-id-map`, and `timestamp`, `token` and
/// `signature`: hex HMAC-SHA256 of timestamp and token, keyed with the customer's webhook secret (the string
/// `whsec_...`, which is what the receiver configures as its Mailgun webhook signing key).
///
/// Mailgun's own spam and authentication headers carry the node's verdicts: `X-Mailgun-Sflag` and
/// `X-Mailgun-Sscore` once rspamd has scanned the message, `X-Mailgun-Spf` and `X-Mailgun-Dkim-Check-Result`
/// once the node has checked its sender.
enum MailgunFormat {
    static func encode(_ input: WebhookMessage, signingKey: String, timestamp: Int, token: String) -> WebhookBody {
        var form = FormData(capacity: input.message.raw.count * 2 + 4096)
        form.field("recipient", input.envelope.to)
        form.field("sender", input.envelope.from)
        form.field("from", input.header("From") ?? "")
        form.field("subject", input.header("Subject") ?? "")
        form.field("body-plain", input.content.plain ?? "")
        if let html = input.content.html { form.field("body-html", html) }
        form.field("stripped-text", input.content.replyPlain ?? input.content.plain ?? "")
        form.field("message-headers", bytes: messageHeaders(input))
        let attachments = input.content.attachments
        form.field("attachment-count", String(attachments.count))
        var contentIDs = JSONWriter(capacity: 64)
        contentIDs.beginObject()
        for (index, attachment) in attachments.enumerated() {
            let name = "attachment-\(index + 1)"
            form.file(
                name, fileName: WebhookMessage.fileName(of: attachment, index), contentType: attachment.contentType,
                content: attachment.decodedBytes)
            if let id = attachment.contentID { contentIDs.field("<\(id)>", name) }
        }
        contentIDs.endObject()
        if attachments.contains(where: { $0.contentID != nil }) { form.field("content-id-map", bytes: contentIDs.bytes) }
        form.field("timestamp", String(timestamp))
        form.field("token", token)
        form.field("signature", signature(key: signingKey, timestamp: timestamp, token: token))
        return WebhookBody(contentType: form.contentType, bytes: form.finish())
    }

    /// Hex HMAC-SHA256 of `timestamp` followed by `token`, as Mailgun signs.
    static func signature(key: String, timestamp: Int, token: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp)\(token)".utf8), using: SymmetricKey(data: Array(key.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    /// 50 random hex digits, as Mailgun's tokens are; a receiver may refuse one it has seen.
    static func makeToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<25).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    private static func messageHeaders(_ input: WebhookMessage) -> [UInt8] {
        var json = JSONWriter(capacity: 2048)
        json.beginArray()
        func pair(_ name: String, _ value: String) {
            json.beginArray()
            json.string(name)
            json.string(value)
            json.endArray()
        }
        for field in input.message.headers { pair(field.name, field.value) }
        if let spam = input.envelope.scan?.spam, spam.status == .scanned, let score = spam.score {
            let threshold = input.envelope.spamThreshold ?? FilteringPolicy.standard.spamThreshold
            pair("X-Mailgun-Sflag", score >= threshold ? "Yes" : "No")
            pair("X-Mailgun-Sscore", JSONWriter.text(of: score) ?? "0")
        }
        if let authentication = input.envelope.authentication {
            pair("X-Mailgun-Spf", authentication.spf.result.rawValue.capitalized)
            pair("X-Mailgun-Dkim-Check-Result", authentication.dkim.contains { $0.result == .pass } ? "Pass" : "Fail")
        }
        json.endArray()
        return json.bytes
    }
}

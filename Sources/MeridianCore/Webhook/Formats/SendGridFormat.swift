/// What SendGrid's Inbound Parse POSTs in its default (parsed) mode, which SendGrid receivers (django-anymail's
/// `SendGridInboundWebhookView` among them) read: `headers` (the header section as sent), `from`, `to`, `cc`,
/// `subject`, `text`, `html`, `envelope` (JSON `{"to": [...], "from": ...}`, here the one recipient this
/// delivery is for), `charsets` (all UTF-8: the node decodes every text), `sender_ip`, `SPF`, `dkim`,
/// `spam_score` and `spam_report` once rspamd has scanned it, `attachments` (the count), `attachment-info`,
/// `content-ids`, and the files `attachment1`...
///
/// SendGrid signs nothing in this mode: receivers authenticate it with HTTP Basic credentials in the URL
/// (``NodeBundle/Webhook/credentials``), and the Standard Webhooks signature is there for those who check it.
enum SendGridFormat {
    static func encode(_ input: WebhookMessage) -> WebhookBody {
        var form = FormData(capacity: input.message.raw.count * 2 + 4096)
        form.field("headers", bytes: headerSection(input.message))
        form.field("from", input.header("From") ?? "")
        form.field("to", input.header("To") ?? "")
        if let cc = input.header("Cc") { form.field("cc", cc) }
        form.field("subject", input.header("Subject") ?? "")
        if let text = input.content.plain { form.field("text", text) }
        if let html = input.content.html { form.field("html", html) }
        var envelope = JSONWriter(capacity: 256)
        envelope.beginObject()
        envelope.field("to", strings: [input.envelope.to])
        envelope.field("from", input.envelope.from)
        envelope.endObject()
        form.field("envelope", bytes: envelope.bytes)
        form.field("charsets", #"{"to":"UTF-8","from":"UTF-8","cc":"UTF-8","subject":"UTF-8","text":"UTF-8","html":"UTF-8"}"#)
        form.field("sender_ip", input.envelope.remoteIP)
        if let authentication = input.envelope.authentication {
            form.field("SPF", authentication.spf.result.rawValue)
            let dkim = authentication.dkim.map { "@\($0.domain) : \($0.result.rawValue)" }.joined(separator: ", ")
            form.field("dkim", "{\(dkim)}")
        }
        if let spam = input.envelope.scan?.spam, spam.status == .scanned, let score = spam.score {
            form.field("spam_score", JSONWriter.text(of: score) ?? "0")
            let symbols = spam.symbols.map { "\($0.name) (\(JSONWriter.text(of: $0.score) ?? "0"))" }.joined(separator: ", ")
            form.field("spam_report", "rspamd: score \(JSONWriter.text(of: score) ?? "0"), action \(spam.action ?? "none"); \(symbols)")
        }
        let attachments = input.content.attachments
        form.field("attachments", String(attachments.count))
        if !attachments.isEmpty {
            var info = JSONWriter(capacity: 256)
            var contentIDs = JSONWriter(capacity: 64)
            info.beginObject()
            contentIDs.beginObject()
            for (index, attachment) in attachments.enumerated() {
                let name = "attachment\(index + 1)"
                let fileName = WebhookMessage.fileName(of: attachment, index)
                info.key(name)
                info.beginObject()
                info.field("filename", fileName)
                info.field("name", fileName)
                info.field("type", attachment.contentType)
                if let id = attachment.contentID { info.field("content-id", id) }
                info.endObject()
                if let id = attachment.contentID { contentIDs.field(id, name) }
            }
            info.endObject()
            contentIDs.endObject()
            form.field("attachment-info", bytes: info.bytes)
            if attachments.contains(where: { $0.contentID != nil }) { form.field("content-ids", bytes: contentIDs.bytes) }
            for (index, attachment) in attachments.enumerated() {
                form.file(
                    "attachment\(index + 1)", fileName: WebhookMessage.fileName(of: attachment, index), contentType: attachment.contentType,
                    content: attachment.decodedBytes)
            }
        }
        return WebhookBody(contentType: form.contentType, bytes: form.finish())
    }

    /// The header section as sent, one unfolded field per line.
    static func headerSection(_ message: MIMEMessage) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in message.headers {
            bytes += field.name.utf8
            bytes += ": ".utf8
            bytes += field.rawValue
            bytes.append(0x0A)
        }
        return bytes
    }
}

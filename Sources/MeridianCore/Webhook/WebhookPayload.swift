/// The JSON body POSTed to a customer's webhook: CloudMailin's normalised JSON format (`envelope`,
/// `headers` with lower-case underscore keys, `plain`, `html`, `reply_plain`, `attachments`), so existing
/// CloudMailin receivers work unchanged. Meridian's own fields sit under `meridian`, which they ignore.
public enum WebhookPayload {
    public static func encode(
        envelope: MessageEnvelope, message: MIMEMessage, content: MessageContent, configVersion: Int? = nil, pretty: Bool = false
    ) -> [UInt8] {
        var json = JSONWriter(capacity: message.raw.count + message.raw.count / 3 + 1024, pretty: pretty)
        json.beginObject()
        json.key("envelope")
        writeEnvelope(envelope, to: &json)
        json.key("headers")
        writeHeaders(message.headers, to: &json)
        json.key("plain")
        json.string(content.plain)
        json.key("html")
        json.string(content.html)
        json.key("reply_plain")
        json.string(content.replyPlain)
        json.key("attachments")
        json.beginArray()
        for attachment in content.attachments { writeAttachment(attachment, to: &json) }
        json.endArray()
        json.key("meridian")
        json.beginObject()
        if let configVersion {
            json.key("config_version")
            json.number(configVersion)
        }
        json.key("flags")
        json.beginArray()
        for flag in content.flags.sorted() { json.string(flag.rawValue) }
        json.endArray()
        json.endObject()
        json.endObject()
        return json.bytes
    }

    /// `Message-ID` becomes `message_id`: lower case, hyphens as underscores (CloudMailin's normalisation).
    public static func normalisedHeaderName(_ name: String) -> String {
        String(decoding: name.utf8.map { $0 == 0x2D ? 0x5F : asciiLowercase($0) }, as: UTF8.self)
    }

    private static func writeEnvelope(_ envelope: MessageEnvelope, to json: inout JSONWriter) {
        json.beginObject()
        json.key("to")
        json.string(envelope.to)
        json.key("recipients")
        json.beginArray()
        for recipient in envelope.recipients { json.string(recipient) }
        json.endArray()
        json.key("from")
        json.string(envelope.from)
        json.key("helo_domain")
        json.string(envelope.heloDomain)
        json.key("remote_ip")
        json.string(envelope.remoteIP)
        json.key("tls")
        json.bool(envelope.tls != nil)
        json.key("tls_cipher")
        json.string(envelope.tls?.cipher)
        json.key("tls_version")
        json.string(envelope.tls?.version)
        json.key("size")
        json.number(envelope.size)
        json.endObject()
    }

    /// A header given once is a string; given several times, an array in message order.
    private static func writeHeaders(_ fields: [MIMEHeaderField], to json: inout JSONWriter) {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for field in fields {
            let key = normalisedHeaderName(field.name)
            if values[key] == nil { order.append(key) }
            values[key, default: []].append(field.value)
        }
        json.beginObject()
        for key in order {
            json.key(key)
            let list = values[key]!
            if list.count == 1 {
                json.string(list[0])
            } else {
                json.beginArray()
                for value in list { json.string(value) }
                json.endArray()
            }
        }
        json.endObject()
    }

    private static func writeAttachment(_ attachment: MessageContent.Attachment, to json: inout JSONWriter) {
        json.beginObject()
        json.key("file_name")
        json.string(attachment.fileName)
        json.key("content_type")
        json.string(attachment.contentType)
        json.key("size")
        json.number(attachment.size)
        json.key("disposition")
        json.string(attachment.disposition)
        if let contentID = attachment.contentID {
            json.key("content_id")
            json.string(contentID)
        }
        json.key("content")
        switch attachment.content {
        case let .bytes(bytes): json.base64String(bytes)
        case let .base64(text): json.rawString(text)
        }
        json.endObject()
    }
}

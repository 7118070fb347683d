/// The JSON body POSTed to a customer's webhook: CloudMailin's normalised JSON format (`envelope`,
/// `headers` with lower-case underscore keys, `plain`, `html`, `reply_plain`, `attachments`), so existing
/// CloudMailin receivers work unchanged. Meridian's own fields sit under `meridian`, which they ignore.
public enum WebhookPayload {
    /// The outcome of the optional `content_analysis` step, when it ran.
    public enum Analysis: Sendable, Equatable {
        /// The analysis service's answer: a JSON object, already validated and re-encoded.
        case verdict([UInt8])
        case failed(String)
    }

    public static func encode(
        envelope: MessageEnvelope, message: MIMEMessage, content: MessageContent, configVersion: Int? = nil, analysis: Analysis? = nil,
        pretty: Bool = false
    ) -> [UInt8] {
        var json = JSONWriter(capacity: message.raw.count + message.raw.count / 3 + 1024, pretty: pretty)
        json.beginObject()
        json.key("envelope")
        writeEnvelope(envelope, to: &json)
        json.key("headers")
        writeHeaders(message.headers, to: &json)
        json.field("plain", utf8: content.plainUTF8)
        json.field("html", utf8: content.htmlUTF8)
        json.field("reply_plain", content.replyPlain)
        json.key("attachments")
        json.beginArray()
        for (index, attachment) in content.attachments.enumerated() {
            writeAttachment(attachment, scan: envelope.scan.map { attachmentScan($0.virus, index) }, to: &json)
        }
        json.endArray()
        json.key("meridian")
        json.beginObject()
        if let configVersion { json.field("config_version", configVersion) }
        json.field("flags", strings: content.flags.sorted().map(\.rawValue))
        switch analysis {
        case .verdict(let object)?:
            json.key("analysis")
            json.rawJSON(object)
        case .failed(let reason)?:
            json.field("analysis_error", reason)
        case nil:
            break
        }
        json.endObject()
        json.endObject()
        return json.bytes
    }

    /// `Message-ID` becomes `message_id`: lower case, hyphens as underscores (CloudMailin's normalisation).
    public static func normalisedHeaderName(_ name: String) -> String {
        String(decoding: name.utf8.map { $0 == 0x2D ? 0x5F : asciiLowercase($0) }, as: UTF8.self)
    }

    static func writeEnvelope<Sink: StructuredSink>(_ envelope: MessageEnvelope, to json: inout Sink) {
        json.beginObject()
        json.field("to", envelope.to)
        json.field("recipients", strings: envelope.recipients)
        json.field("from", envelope.from)
        json.field("helo_domain", envelope.heloDomain)
        json.field("remote_ip", envelope.remoteIP)
        json.field("tls", envelope.tls != nil)
        json.field("tls_cipher", envelope.tls?.cipher)
        json.field("tls_version", envelope.tls?.version)
        json.field("size", envelope.size)
        if let authentication = envelope.authentication { writeAuthentication(authentication, to: &json) }
        if let scan = envelope.scan { writeScan(scan, threshold: envelope.spamThreshold, to: &json) }
        json.endObject()
    }

    /// `spamd {result, score, required_score, action, symbols{name: score}}` and `virus {result, viruses}`.
    private static func writeScan<Sink: StructuredSink>(_ scan: ContentScan, threshold: Double?, to json: inout Sink) {
        json.key("spamd")
        json.beginObject()
        json.field("result", scan.spam.status.rawValue)
        if scan.spam.status == .scanned, let threshold, let score = scan.spam.score { json.field("spam", score >= threshold) }
        if let score = scan.spam.score { json.field("score", score) }
        if let required = scan.spam.requiredScore { json.field("required_score", required) }
        if let action = scan.spam.action { json.field("action", action) }
        if scan.spam.status == .scanned {
            json.key("symbols")
            json.beginObject()
            for symbol in scan.spam.symbols { json.field(symbol.name, symbol.score) }
            json.endObject()
        }
        if let reason = scan.spam.reason { json.field("reason", reason) }
        json.endObject()
        json.key("virus")
        json.beginObject()
        json.field("result", scan.virus.status.rawValue)
        json.field("viruses", strings: scan.virus.viruses)
        if let reason = scan.virus.reason { json.field("reason", reason) }
        json.endObject()
    }

    /// CloudMailin's shapes: `spf {result, domain}`, `dkim {success, result[{result, domain, selector}]}`,
    /// `dmarc {success, result, details{...}}`, each with Meridian's `reason` where there is one.
    private static func writeAuthentication<Sink: StructuredSink>(_ authentication: SenderAuthentication, to json: inout Sink) {
        json.key("spf")
        json.beginObject()
        json.field("result", authentication.spf.result.rawValue)
        json.field("domain", authentication.spf.domain)
        if let reason = authentication.spf.reason { json.field("reason", reason) }
        json.endObject()
        json.key("dkim")
        json.beginObject()
        json.field("success", authentication.dkim.contains { $0.result == .pass })
        json.key("result")
        json.beginArray()
        for signature in authentication.dkim {
            json.beginObject()
            json.field("result", signature.result.rawValue)
            json.field("domain", signature.domain)
            json.field("selector", signature.selector)
            if let reason = signature.reason { json.field("reason", reason) }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        let dmarc = authentication.dmarc
        json.key("dmarc")
        json.beginObject()
        json.field("success", dmarc.result == .pass)
        json.field("result", dmarc.result.rawValue)
        json.key("details")
        json.beginObject()
        json.field("from_domain", dmarc.fromDomain)
        json.field("organizational_domain", dmarc.organizationalDomain)
        json.field("policy", dmarc.policy?.rawValue)
        json.field("spf_aligned", dmarc.spfAligned)
        json.field("dkim_aligned", dmarc.dkimAligned)
        if let reason = dmarc.reason { json.field("reason", reason) }
        json.endObject()
        json.endObject()
    }

    /// A header given once is a string; given several times, an array in message order.
    static func writeHeaders<Sink: StructuredSink>(_ fields: [MIMEHeaderField], to json: inout Sink) {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for field in fields {
            let key = normalisedHeaderName(field.name)
            if values[key] == nil { order.append(key) }
            values[key, default: []].append(field.value)
        }
        json.beginObject()
        for key in order {
            let list = values[key]!
            if list.count == 1 { json.field(key, list[0]) } else { json.field(key, strings: list) }
        }
        json.endObject()
    }

    /// An attachment's `scan`: `clean`, `infected` with the virus, or the message's status when the scanner
    /// failed or did not run.
    static func attachmentScan(_ virus: VirusScan, _ index: Int) -> (result: String, virus: String?) {
        switch virus.status {
        case .infected:
            guard let attachments = virus.attachments, index < attachments.count else { return ("infected", virus.viruses.first) }
            return attachments[index].map { ("infected", $0) } ?? ("clean", nil)
        default:
            return (virus.status.rawValue, nil)
        }
    }

    private static func writeAttachment(_ attachment: MessageContent.Attachment, scan: (result: String, virus: String?)?, to json: inout JSONWriter) {
        json.beginObject()
        if let scan {
            json.key("scan")
            json.beginObject()
            json.field("result", scan.result)
            if let virus = scan.virus { json.field("virus", virus) }
            json.endObject()
        }
        json.field("file_name", attachment.fileName)
        json.field("content_type", attachment.contentType)
        json.field("size", attachment.size)
        json.field("disposition", attachment.disposition)
        if let contentID = attachment.contentID { json.field("content_id", contentID) }
        json.key("content")
        json.base64String(attachment.content)
        json.endObject()
    }
}

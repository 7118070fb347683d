/// CloudMailin's two `multipart/form-data` formats. Both carry the envelope of the JSON format as bracketed
/// fields (`envelope[to]`, `envelope[spf][result]`, `envelope[recipients][0]`), written by the same code.
enum CloudMailinForms {
    /// Multipart normalised: `plain`, `html`, `reply_plain`, `headers[name]` (lower case, underscores; a
    /// repeated field as `headers[name][0]`...), and each attachment as the file `attachments[N]`.
    static func multipart(_ input: WebhookMessage) -> WebhookBody {
        var form = FormData(capacity: input.message.raw.count + 4096)
        if let plain = input.content.plain { form.field("plain", plain) }
        if let html = input.content.html { form.field("html", html) }
        if let reply = input.content.replyPlain { form.field("reply_plain", reply) }
        var fields = FormFieldWriter()
        fields.key("envelope")
        WebhookPayload.writeEnvelope(input.envelope, to: &fields)
        fields.key("headers")
        WebhookPayload.writeHeaders(input.message.headers, to: &fields)
        writeMeridian(input, to: &fields)
        for (name, value) in fields.fields { form.field(name, value) }
        for (index, attachment) in input.content.attachments.enumerated() {
            form.file(
                "attachments[\(index)]", fileName: WebhookMessage.fileName(of: attachment, index), contentType: attachment.contentType,
                content: attachment.decodedBytes)
        }
        return WebhookBody(contentType: form.contentType, bytes: form.finish())
    }

    /// Raw: the message exactly as received (with the node's `Authentication-Results` field on top) in the
    /// field `message`, and the envelope.
    static func raw(_ input: WebhookMessage) -> WebhookBody {
        var form = FormData(capacity: input.message.raw.count + 2048)
        form.field("message", bytes: input.message.raw)
        var fields = FormFieldWriter()
        fields.key("envelope")
        WebhookPayload.writeEnvelope(input.envelope, to: &fields)
        writeMeridian(input, to: &fields)
        for (name, value) in fields.fields { form.field(name, value) }
        return WebhookBody(contentType: form.contentType, bytes: form.finish())
    }

    /// Meridian's own fields, as the JSON format's `meridian` object.
    private static func writeMeridian(_ input: WebhookMessage, to fields: inout FormFieldWriter) {
        fields.key("meridian")
        fields.beginObject()
        fields.field("config_version", input.configVersion)
        fields.field("flags", strings: input.content.flags.sorted().map(\.rawValue))
        switch input.analysis {
        case .verdict(let object)?: fields.field("analysis", String(decoding: object, as: UTF8.self))
        case .failed(let reason)?: fields.field("analysis_error", reason)
        case nil: break
        }
        fields.endObject()
    }
}

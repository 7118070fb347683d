/// What Postmark's inbound webhook POSTs, which Postmark receivers (django-anymail's
/// `PostmarkInboundWebhookView` among them) read: `From`, `FromName`, `FromFull`, `To`/`ToFull`,
/// `Cc`/`CcFull`, `Bcc`/`BccFull`, `OriginalRecipient` (the envelope recipient), `Subject`, `MessageID` (the
/// delivery's `webhook-id`, stable across retries), `ReplyTo`, `MailboxHash`, `Date`, `TextBody`, `HtmlBody`,
/// `StrippedTextReply`, `Headers` (the other fields, led by `Return-Path` with the envelope sender, as Postmark
/// does), and `Attachments` with base64 `Content`. rspamd's verdict is in `X-Spam-Status` and `X-Spam-Score`,
/// where Postmark puts SpamAssassin's.
///
/// Postmark signs nothing: receivers authenticate it with HTTP Basic credentials in the URL.
enum PostmarkFormat {
    /// Fields Postmark gives as members of their own, and so leaves out of `Headers`.
    static let ownMembers: Set<String> = ["from", "to", "cc", "bcc", "subject", "date", "reply-to"]

    static func encode(_ input: WebhookMessage) -> WebhookBody {
        let headers = input.message.headers
        func mailboxes(_ name: String) -> [Mailbox] {
            headers.filter { $0.name.lowercased() == name }.flatMap { AddressList.mailboxes($0.rawValue) }
        }
        let from = mailboxes("from").first
        let recipient = Mailbox(name: "", address: input.envelope.to)
        var json = JSONWriter(capacity: input.message.raw.count * 2 + 4096)
        json.beginObject()
        json.field("FromName", from?.name ?? "")
        json.field("MessageStream", "inbound")
        json.field("From", from?.address ?? "")
        json.key("FromFull")
        write(from ?? Mailbox(name: "", address: ""), to: &json)
        for (member, name) in [("To", "to"), ("Cc", "cc"), ("Bcc", "bcc")] {
            let list = mailboxes(name)
            json.field(member, list.map(display).joined(separator: ", "))
            json.key(member + "Full")
            json.beginArray()
            for mailbox in list { write(mailbox, to: &json) }
            json.endArray()
        }
        json.field("OriginalRecipient", input.envelope.to)
        json.field("Subject", input.header("Subject") ?? "")
        json.field("MessageID", input.webhookID)
        json.field("ReplyTo", input.header("Reply-To") ?? "")
        json.field("MailboxHash", recipient.detail ?? "")
        json.field("Date", input.header("Date") ?? "")
        json.field("TextBody", input.content.plain ?? "")
        json.field("HtmlBody", input.content.html ?? "")
        json.field("StrippedTextReply", input.content.replyPlain ?? "")
        json.field("Tag", "")
        json.key("Headers")
        json.beginArray()
        func header(_ name: String, _ value: String) {
            json.beginObject()
            json.field("Name", name)
            json.field("Value", value)
            json.endObject()
        }
        header("Return-Path", "<\(input.envelope.from)>")
        for field in headers where !ownMembers.contains(field.name.lowercased()) { header(field.name, field.value) }
        if let spam = input.envelope.scan?.spam, spam.status == .scanned, let score = spam.score {
            let threshold = input.envelope.spamThreshold ?? FilteringPolicy.standard.spamThreshold
            header("X-Spam-Status", score >= threshold ? "Yes" : "No")
            header("X-Spam-Score", JSONWriter.text(of: score) ?? "0")
        }
        json.endArray()
        json.key("Attachments")
        json.beginArray()
        for (index, attachment) in input.content.attachments.enumerated() {
            json.beginObject()
            json.field("Name", WebhookMessage.fileName(of: attachment, index))
            json.key("Content")
            json.base64String(attachment.content)
            json.field("ContentType", attachment.contentType)
            json.field("ContentLength", attachment.size)
            if let id = attachment.contentID { json.field("ContentID", id) }
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return WebhookBody(contentType: "application/json", bytes: json.bytes)
    }

    private static func write(_ mailbox: Mailbox, to json: inout JSONWriter) {
        json.beginObject()
        json.field("Email", mailbox.address)
        json.field("Name", mailbox.name)
        json.field("MailboxHash", mailbox.detail ?? "")
        json.endObject()
    }

    /// `"Name" <address>`, or the address alone.
    private static func display(_ mailbox: Mailbox) -> String {
        guard !mailbox.name.isEmpty else { return mailbox.address }
        let quoted = mailbox.name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(quoted)\" <\(mailbox.address)>"
    }
}

import Foundation
@testable import MeridianCore
import Testing

/// The POST formats' shapes. Whether real receivers accept them (django-anymail's Mailgun, SendGrid and Postmark
/// views, Standard Webhooks) is tested end to end in Tests/system/test_post_formats.py.
@Suite("POST formats")
struct PostFormatTests {
    static let message = Array(
        """
        Received: from a.example by b.example; Mon, 1 Dec 2026 10:00:00 +0000\r
        Received: from c.example by a.example; Mon, 1 Dec 2026 09:59:00 +0000\r
        From: "Doe, Jane" <jane@sender.example>\r
        To: =?utf-8?q?Zo=C3=AB?= <inbox+ticket-42@acme.example>, bob@acme.example (Bob)\r
        Subject: Quarterly =?utf-8?q?r=C3=A9sum=C3=A9?=\r
        Message-ID: <m1@sender.example>\r
        MIME-Version: 1.0\r
        Content-Type: multipart/mixed; boundary="b1"\r
        \r
        --b1\r
        Content-Type: text/plain; charset=utf-8\r
        \r
        Hello there.\r
        --b1\r
        Content-Type: application/pdf\r
        Content-Disposition: attachment; filename="evil\\"\r
        Content-Transfer-Encoding: base64\r
        \r
        JVBERi0xLjQK\r
        --b1--\r

        """.utf8)

    static func input() -> WebhookMessage {
        let parsed = MIMEMessage(parsing: message)
        var envelope = MessageEnvelope(
            to: "inbox+ticket-42@acme.example", recipients: ["inbox+ticket-42@acme.example", "bob@acme.example"], from: "bounce@sender.example",
            heloDomain: "mail.sender.example", remoteIP: "192.0.2.1", tls: nil, size: message.count)
        envelope.authentication = SenderAuthentication(
            spf: SPFResult(.pass, domain: "sender.example"),
            dkim: [DKIMResult(.pass, domain: "sender.example", selector: "s1"), DKIMResult(.fail, domain: "other.example", selector: "s2")],
            dmarc: DMARCResult(.pass, fromDomain: "sender.example", policy: .reject, spfAligned: true))
        envelope.scan = ContentScan(
            spam: SpamScan(status: .scanned, score: 7.5, requiredScore: 15, action: "add header", symbols: [.init(name: "BAYES_SPAM", score: 5.1)]),
            virus: VirusScan(status: .clean))
        envelope.spamThreshold = 6
        return WebhookMessage(envelope: envelope, message: parsed, content: MessageContent(parsed), configVersion: 9, webhookID: "msg_01")
    }

    /// A `multipart/form-data` body split into its parts: (name, file name, content type, value).
    static func parts(_ body: WebhookBody) throws -> [(name: String, fileName: String?, type: String?, value: [UInt8])] {
        let boundary = try #require(body.contentType.components(separatedBy: "boundary=").last)
        var text = String(decoding: body.bytes, as: UTF8.self)
        #expect(text.hasSuffix("--\(boundary)--\r\n"))
        text.removeLast("--\(boundary)--\r\n".count)
        return try text.components(separatedBy: "--\(boundary)\r\n").dropFirst().map { part in
            let split = try #require(part.range(of: "\r\n\r\n"))
            let headers = part[..<split.lowerBound].components(separatedBy: "\r\n")
            let disposition = try #require(headers.first { $0.hasPrefix("Content-Disposition: form-data; ") })
            let name = try #require(disposition.firstMatch(of: /name="([^"]*)"/)).1
            let fileName = disposition.firstMatch(of: /filename="([^"]*)"/).map { String($0.1) }
            let type = headers.first { $0.hasPrefix("Content-Type: ") }.map { String($0.dropFirst(14)) }
            var value = String(part[split.upperBound...])
            #expect(value.hasSuffix("\r\n"))
            value.removeLast()  // "\r\n" is one Character
            return (String(name), fileName, type, Array(value.utf8))
        }
    }

    /// A field's value decoded as JSON of type `T`.
    static func json<T>(_ parts: [(name: String, fileName: String?, type: String?, value: [UInt8])], _ name: String, as: T.Type) throws -> T {
        let value = try #require(parts.first { $0.name == name }?.value)
        return try #require(try JSONSerialization.jsonObject(with: Data(value)) as? T)
    }

    static func field(_ parts: [(name: String, fileName: String?, type: String?, value: [UInt8])], _ name: String) -> String? {
        parts.first { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    @Test("CloudMailin multipart: the JSON format's envelope and headers as bracketed fields, attachments as files")
    func cloudMailinMultipart() throws {
        let parts = try Self.parts(PostFormat.multipart.body(for: Self.input(), signingKey: "k", now: Date()))
        #expect(Self.field(parts, "plain") == "Hello there.")
        #expect(Self.field(parts, "envelope[to]") == "inbox+ticket-42@acme.example")
        #expect(Self.field(parts, "envelope[recipients][1]") == "bob@acme.example")
        #expect(Self.field(parts, "envelope[spf][result]") == "pass")
        #expect(Self.field(parts, "envelope[dkim][result][1][domain]") == "other.example")
        #expect(Self.field(parts, "envelope[dmarc][details][policy]") == "reject")
        #expect(Self.field(parts, "envelope[spamd][symbols][BAYES_SPAM]") == "5.1")
        #expect(Self.field(parts, "envelope[spamd][spam]") == "true")
        #expect(Self.field(parts, "envelope[tls]") == "false")
        #expect(Self.field(parts, "headers[received][0]")?.hasPrefix("from a.example") == true)
        #expect(Self.field(parts, "headers[received][1]")?.hasPrefix("from c.example") == true)
        #expect(Self.field(parts, "headers[subject]") == "Quarterly résumé")
        #expect(Self.field(parts, "meridian[config_version]") == "9")
        // The hostile file name stays inside its quotes: escaped as browsers do, no extra part or header.
        let file = try #require(parts.first { $0.name == "attachments[0]" })
        #expect(file.fileName == "evil%22" && file.type == "application/pdf")
        #expect(String(decoding: file.value, as: UTF8.self) == "%PDF-1.4\n")
        #expect(!parts.contains { $0.name.contains("\r") || $0.name.contains("\n") })
    }

    @Test("CloudMailin raw: the message byte for byte in `message`, with the envelope")
    func cloudMailinRaw() throws {
        let parts = try Self.parts(PostFormat.raw.body(for: Self.input(), signingKey: "k", now: Date()))
        #expect(try #require(parts.first { $0.name == "message" }).value == Self.message)
        #expect(Self.field(parts, "envelope[from]") == "bounce@sender.example")
        #expect(!parts.contains { $0.name == "plain" })
    }

    @Test("Mailgun: parsed fields and a signature a Mailgun receiver computes the same (a vector from Python's hmac)")
    func mailgun() throws {
        #expect(
            MailgunFormat.signature(key: "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3", timestamp: 1_700_000_000, token: "8a2f0c7e1b")
                == "c0b76455aa8749d273cec00e271609d9e41de31f3c9ad69c53b8904877ea53e7")
        let token = MailgunFormat.makeToken()
        #expect(token.count == 50 && token != MailgunFormat.makeToken())
        let body = MailgunFormat.encode(Self.input(), signingKey: "key", timestamp: 1_700_000_000, token: "tok")
        let parts = try Self.parts(body)
        #expect(Self.field(parts, "recipient") == "inbox+ticket-42@acme.example" && Self.field(parts, "sender") == "bounce@sender.example")
        #expect(Self.field(parts, "subject") == "Quarterly résumé" && Self.field(parts, "body-plain") == "Hello there.")
        #expect(Self.field(parts, "attachment-count") == "1")
        #expect(parts.first { $0.name == "attachment-1" }?.fileName == "evil%22")
        #expect(Self.field(parts, "signature") == MailgunFormat.signature(key: "key", timestamp: 1_700_000_000, token: "tok"))
        let headers = try Self.json(parts, "message-headers", as: [[String]].self)
        #expect(headers.first == ["Received", "from a.example by b.example; Mon, 1 Dec 2026 10:00:00 +0000"])
        #expect(headers.contains(["X-Mailgun-Sflag", "Yes"]) && headers.contains(["X-Mailgun-Sscore", "7.5"]))
        #expect(headers.contains(["X-Mailgun-Spf", "Pass"]) && headers.contains(["X-Mailgun-Dkim-Check-Result", "Pass"]))
    }

    @Test("SendGrid: the header section as sent, the envelope as JSON, attachment info")
    func sendGrid() throws {
        let parts = try Self.parts(SendGridFormat.encode(Self.input()))
        let headers = try #require(Self.field(parts, "headers"))
        #expect(headers.contains("Subject: Quarterly =?utf-8?q?r=C3=A9sum=C3=A9?=\n"))
        let envelope = try Self.json(parts, "envelope", as: [String: Any].self)
        #expect(envelope["to"] as? [String] == ["inbox+ticket-42@acme.example"] && envelope["from"] as? String == "bounce@sender.example")
        #expect(Self.field(parts, "SPF") == "pass" && Self.field(parts, "dkim") == "{@sender.example : pass, @other.example : fail}")
        #expect(Self.field(parts, "spam_score") == "7.5" && Self.field(parts, "attachments") == "1")
        let info = try Self.json(parts, "attachment-info", as: [String: [String: String]].self)
        #expect(info["attachment1"]?["type"] == "application/pdf")
        #expect(parts.first { $0.name == "attachment1" }?.value == Array("%PDF-1.4\n".utf8))
    }

    @Test("Postmark: names and addresses apart, Return-Path first, the mailbox hash, attachments in base64")
    func postmark() throws {
        let body = PostmarkFormat.encode(Self.input())
        #expect(body.contentType == "application/json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.bytes)) as? [String: Any])
        #expect(json["From"] as? String == "jane@sender.example" && json["FromName"] as? String == "Doe, Jane")
        let to = try #require(json["ToFull"] as? [[String: String]])
        #expect(to.map { $0["Email"] } == ["inbox+ticket-42@acme.example", "bob@acme.example"])
        #expect(to[0]["Name"] == "Zoë" && to[0]["MailboxHash"] == "ticket-42")
        #expect(json["To"] as? String == #""Zoë" <inbox+ticket-42@acme.example>, bob@acme.example"#)
        #expect(json["OriginalRecipient"] as? String == "inbox+ticket-42@acme.example" && json["MailboxHash"] as? String == "ticket-42")
        #expect(json["MessageID"] as? String == "msg_01" && json["TextBody"] as? String == "Hello there.")
        let headers = try #require(json["Headers"] as? [[String: String]])
        #expect(headers.first == ["Name": "Return-Path", "Value": "<bounce@sender.example>"])
        #expect(!headers.contains { ["from", "to", "subject"].contains($0["Name"]?.lowercased()) })
        #expect(headers.contains(["Name": "X-Spam-Status", "Value": "Yes"]))
        let attachments = try #require(json["Attachments"] as? [[String: Any]])
        #expect(attachments.first?["Content"] as? String == "JVBERi0xLjQK" && attachments.first?["ContentLength"] as? Int == 9)
    }

    @Test("address lists: quoted names with commas, comments, encoded words, groups, bare addresses")
    func addressLists() {
        let list = AddressList.mailboxes(
            Array(#""Doe, John" <john@x.example>, jane@y.example (Jane), =?utf-8?q?Zo=C3=AB?= <z@x.example>, team: a@b.example, c@d.example;, nobody"#.utf8))
        #expect(list.map(\.address) == ["john@x.example", "jane@y.example", "z@x.example", "a@b.example", "c@d.example"])
        #expect(list.map(\.name) == ["Doe, John", "", "Zoë", "", ""])
        #expect(Mailbox(name: "", address: "in+x@a.example").detail == "x" && Mailbox(name: "", address: "in@a.example").detail == nil)
    }

    @Test("a URL's user info becomes HTTP Basic credentials, kept apart from the URL; unusable ones are refused")
    func credentialsInURL() {
        #expect(WebhookEndpoint.split("https://hook:p%40ss:w@hooks.example/in?x=1")
            == .endpoint(WebhookEndpoint("https://hooks.example/in?x=1")!, credentials: "hook:p@ss:w"))
        #expect(WebhookEndpoint.split("https://hooks.example/in") == .endpoint(WebhookEndpoint("https://hooks.example/in")!, credentials: nil))
        #expect(WebhookEndpoint.split("https://:secret@hooks.example/") == .badCredentials("the user info needs a user name (https://user:password@host/)"))
        #expect(WebhookEndpoint.split("https://u:a%0Db@hooks.example/") == .badCredentials("the user name or password contains control characters"))
        #expect(WebhookEndpoint.split("ftp://u:p@hooks.example/") == .notAURL)
        #expect(WebhookEndpoint.split("https://u:p@hooks.example/#frag") == .notAURL)
        #expect(WebhookEndpoint("https://u:p@hooks.example/") == nil, "a bundle's URL never holds credentials")
    }

    @Test("a delivery event: type, id, time and the record's fields, numbers as numbers, absent fields left out")
    func deliveryEvent() throws {
        let input = Self.input()
        let metadata = MessageMetadata(envelope: input.envelope, message: input.message, receivedAt: Date(timeIntervalSince1970: 1_790_000_000), configVersion: 4, redactions: [.subject])
        let record = DeliveryRecord(
            messageID: "eml_1", recipient: 1, customerID: "cus_a", webhookID: "msg_1", mode: .queued, status: .failed, attempts: 3, nextAttemptAt: nil,
            completedAt: nil, finalReason: nil, metadata: metadata)
        let event = DeliveryEvent(.messageFailed, delivery: record, region: RegionID("eu")!, reason: "the webhook refused it", at: Date(timeIntervalSince1970: 1_790_000_060))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(event.json())) as? [String: Any])
        #expect(json["type"] as? String == "message.failed" && (json["id"] as? String)?.hasPrefix("evt_") == true)
        #expect(json["created_at"] as? String == "2026-09-21T14:14:20Z")
        let data = try #require(json["data"] as? [String: Any])
        #expect(data["recipient"] as? Int == 1 && data["attempts"] as? Int == 3 && data["config_version"] as? Int == 4)
        #expect(data["reason"] as? String == "the webhook refused it" && data["envelope_to"] as? String == "inbox+ticket-42@acme.example")
        #expect(data["subject"] == nil && data["next_attempt_at"] == nil, "a redacted or absent field is left out")
    }

    @Test("form fields flatten nested objects and arrays of objects")
    func formFieldWriter() {
        var writer = FormFieldWriter()
        writer.key("a")
        writer.beginObject()
        writer.field("b", "1")
        writer.key("c")
        writer.beginArray()
        writer.beginObject()
        writer.field("d", 2)
        writer.endObject()
        writer.beginObject()
        writer.field("d", nil as Int?)
        writer.field("e", true)
        writer.endObject()
        writer.endArray()
        writer.field("f", strings: ["x", "y"])
        writer.endObject()
        writer.field("top", 1.25)
        #expect(writer.fields.map { "\($0.name)=\($0.value)" } == ["a[b]=1", "a[c][0][d]=2", "a[c][1][e]=true", "a[f][0]=x", "a[f][1]=y", "top=1.25"])
    }
}

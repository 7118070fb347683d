import AsyncHTTPClient
import Foundation
import MeridianCore
import MeridianServer
import NIOCore

/// A test delivery: a sample message built and posted the way the nodes post mail, in the account's format,
/// signed with its secret and carrying its Basic credentials, through the coordinator's egress client (so the
/// deployment's egress policy holds as it does for the nodes). The endpoint's answer is the result; nothing is
/// retried or stored but the audit entry.
struct TestDelivery: Sendable {
    let egress: EgressClient
    let secrets: SecretBox
    let now: @Sendable () -> Date
    /// The whole test delivery's deadline: under the 10 s an API client (or a person) is commonly willing to wait.
    var timeout: TimeAmount = .seconds(8)

    struct Result: Sendable {
        enum Outcome: String, Sendable { case delivered, refused, failed }

        var outcome: Outcome
        var statusCode: Int?
        /// The endpoint's answer, or why there was none: at most 500 printable characters.
        var answer: String
        var durationMilliseconds: Int
        var format: PostFormat
        var webhookID: String
    }

    func send(to customer: CustomerRecord) async throws -> Result {
        let date = now()
        let webhookID = "msg_test_" + Base64URL.random(bytes: 9)
        let domain = customer.domains.first?.domain ?? "example.com"
        let raw = Self.sample(to: "test@\(domain)", at: date)
        let message = MIMEMessage(parsing: raw)
        let envelope = MessageEnvelope(
            to: "test@\(domain)", recipients: ["test@\(domain)"], from: "test@meridian.invalid", heloDomain: "meridian.invalid",
            remoteIP: "192.0.2.1", tls: nil, size: raw.count)
        let input = WebhookMessage(envelope: envelope, message: message, content: MessageContent(message), webhookID: webhookID)
        let secret = try secrets.open(customer.webhookSecretSealed)
        let body = customer.postFormat.body(for: input, signingKey: secret, now: date)
        let request = WebhookRequest.make(
            url: customer.webhookURL, body: body.bytes, contentType: body.contentType, id: webhookID, timestamp: Int(date.timeIntervalSince1970),
            signature: try WebhookSignature(secret: secret, previous: try customer.previousWebhookSecretSealed.map(secrets.open)),
            credentials: try customer.webhookCredentialsSealed.map(secrets.open))
        let start = ContinuousClock.now
        func elapsed() -> Int {
            let duration = ContinuousClock.now - start
            return Int(duration.components.seconds) * 1000 + Int(duration.components.attoseconds / 1_000_000_000_000_000)
        }
        do {
            let response = try await egress.execute(request, timeout: timeout)
            var answer: [UInt8] = []
            for try await chunk in response.body {
                answer += chunk.readableBytesView.prefix(500 - answer.count)
                if answer.count >= 500 { break }
            }
            let code = Int(response.status.code)
            let outcome: Result.Outcome = (200..<300).contains(code) ? .delivered : (400..<500).contains(code) && code != 408 && code != 429 ? .refused : .failed
            var text = WebhookRequest.printable(answer)
            if (300..<400).contains(code) { text = "redirects are not followed; set the webhook URL to the final address" }
            return Result(outcome: outcome, statusCode: code, answer: text, durationMilliseconds: elapsed(), format: customer.postFormat, webhookID: webhookID)
        } catch let refusal as EgressRefusal {
            return Result(
                outcome: .refused, statusCode: nil, answer: WebhookRequest.describe(refusal), durationMilliseconds: elapsed(),
                format: customer.postFormat, webhookID: webhookID)
        } catch {
            return Result(
                outcome: .failed, statusCode: nil, answer: WebhookRequest.describe(error, timeout: "8 seconds"), durationMilliseconds: elapsed(), format: customer.postFormat,
                webhookID: webhookID)
        }
    }

    /// The sample: text and HTML, and a small attachment, so every part of a format shows.
    static func sample(to recipient: String, at date: Date) -> [UInt8] {
        Array(
            """
            From: Meridian test <test@meridian.invalid>\r
            To: <\(recipient)>\r
            Subject: Meridian test delivery\r
            Date: \(DeliveryStatusNotification.rfc5322(date))\r
            Message-ID: <test-\(Int(date.timeIntervalSince1970))@meridian.invalid>\r
            MIME-Version: 1.0\r
            Content-Type: multipart/mixed; boundary="meridian-test"\r
            \r
            --meridian-test\r
            Content-Type: multipart/alternative; boundary="meridian-alt"\r
            \r
            --meridian-alt\r
            Content-Type: text/plain; charset=utf-8\r
            \r
            This is a test delivery from your Meridian account. No mail was received to make it.\r
            --meridian-alt\r
            Content-Type: text/html; charset=utf-8\r
            \r
            <p>This is a <b>test delivery</b> from your Meridian account. No mail was received to make it.</p>\r
            --meridian-alt--\r
            --meridian-test\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Disposition: attachment; filename="test.txt"\r
            \r
            A small attachment.\r
            --meridian-test--\r

            """.utf8)
    }
}

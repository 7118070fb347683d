import MeridianCore

extension WebhookClient {
    /// POSTs one recipient's payload, built under `configVersion` (the config whose `customer` this is), signed
    /// with the customer's secret under the recipient's stable `webhook-id`, and counts the attempt. Sync and
    /// queued delivery both go through here.
    func deliver(
        _ spooled: SpooledMessage, recipient index: Int, data: [UInt8], message: MIMEMessage, content: MessageContent,
        to customer: NodeBundle.Customer, configVersion: Int, analysis: WebhookPayload.Analysis? = nil, metrics: NodeMetrics
    ) async -> WebhookResult {
        let recipient = spooled.recipients[index]
        var envelope = spooled.envelope(for: recipient, size: data.count)
        envelope.spamThreshold = (customer.filtering ?? .standard).spamThreshold
        let result: WebhookResult
        if let signature = try? customer.webhook.signature() {
            let input = WebhookMessage(
                envelope: envelope, message: message, content: content, configVersion: configVersion, analysis: analysis,
                webhookID: recipient.webhookID)
            let body = customer.webhook.postFormat.body(for: input, signingKey: customer.webhook.secret, now: now())
            result = await post(
                url: customer.webhook.url, body: body, webhookID: recipient.webhookID, signature: signature, credentials: customer.webhook.credentials,
                for: customer.id)
        } else {
            // Bundles are validated, so this is a bug rather than bad input; it is retried, not lost.
            result = WebhookResult(outcome: .temporary, statusCode: nil, text: "the webhook secret is malformed", duration: .zero)
        }
        metrics.attempt(result: result.outcome.rawValue, duration: result.duration)
        return result
    }
}

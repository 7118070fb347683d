import Foundation
import Logging
import MeridianCore
import ServiceLifecycle

/// Posts delivery events (``DeliveryEvent``) to customers' events URLs, off the delivery path: events wait in a
/// bounded buffer (the newest 10,000 are kept when an endpoint is slow), and each is tried three times (at once,
/// after 2 s and after 10 s) through the node's webhook client, so the egress rules and the per-customer cap hold.
/// Events are not spooled: one lost to a restart is not sent again, and the message log still shows what happened.
public final class EventPoster: Service, Sendable {
    private let webhooks: WebhookClient
    private let logger: Logger
    private let stream: AsyncStream<(DeliveryEvent, NodeBundle.Customer)>
    private let continuation: AsyncStream<(DeliveryEvent, NodeBundle.Customer)>.Continuation
    static let retryDelays: [Duration] = [.zero, .seconds(2), .seconds(10)]

    public init(webhooks: WebhookClient, logger: Logger) {
        self.webhooks = webhooks
        self.logger = logger
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Queues `event` for `customer`'s events URL; nothing when it has none.
    func post(_ event: DeliveryEvent, for customer: NodeBundle.Customer) {
        guard customer.webhook.eventsURL != nil else { return }
        continuation.yield((event, customer))
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await (event, customer) in stream.cancelOnGracefulShutdown() {
                group.addTask { await self.send(event, to: customer) }
            }
        }
    }

    private func send(_ event: DeliveryEvent, to customer: NodeBundle.Customer) async {
        guard let url = customer.webhook.eventsURL, let signature = try? customer.webhook.signature() else { return }
        let body = WebhookBody(contentType: "application/json", bytes: event.json())
        var last = ""
        for delay in Self.retryDelays {
            if delay > .zero { try? await Task.sleep(for: delay) }
            let result = await webhooks.post(url: url, body: body, webhookID: event.id, signature: signature, for: customer.id)
            if result.outcome == .delivered { return }
            last = result.summary
            if result.outcome == .refused { break }
        }
        logger.notice("events: not delivered", metadata: ["customer": "\(customer.id)", "event": "\(event.kind.rawValue)", "reason": "\(last)"])
    }
}

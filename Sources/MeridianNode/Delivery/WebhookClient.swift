import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOCore
import NIOHTTP1
import MeridianServer
import NIOPosix

/// A node's webhook poster: Standard Webhooks headers, a cap on concurrent requests per customer and endpoint, a deadline
/// per request and a bounded read of the response, over the node's ``EgressClient`` (keep-alive connections,
/// no redirects, only the addresses the deployment's egress policy allows).
public final class WebhookClient: Sendable {
    private let egress: EgressClient
    private let timeout: TimeAmount
    private let limiter: EndpointLimiter
    /// The clock of `webhook-timestamp`.
    let now: @Sendable () -> Date
    /// Response bytes read at most; the rest of a huge response is not read.
    static let responseLimit = 64 * 1024

    public init(egress: EgressClient, timeout: Duration = .seconds(30), perCustomerConcurrency: Int = 16, now: @escaping @Sendable () -> Date = Date.init) {
        self.egress = egress
        self.now = now
        self.timeout = TimeAmount.nanoseconds(timeout.nanoseconds)
        self.limiter = EndpointLimiter(limit: perCustomerConcurrency)
    }

    /// The settings of the node's egress client: connections kept a minute, up to `perHostConnections` per host
    /// (several customers may share one, each held to its own 16 requests by the limiter), bodies passed on as
    /// they come.
    public static func httpConfiguration(timeout: Duration = .seconds(30), perHostConnections: Int = 64) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .nanoseconds(timeout.nanoseconds))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: perHostConnections)
        configuration.decompression = .disabled
        return configuration
    }

    /// POSTs `body` with the Standard Webhooks headers, and HTTP Basic `credentials` (`user:password`) when the
    /// customer's URL had them; never throws, every failure is a result.
    /// `customer` is whose request it is: each customer's requests to an endpoint are capped on their own, so a
    /// customer whose endpoint is slow never makes another customer wait, even on the same host.
    public func post(
        url: String, body: WebhookBody, webhookID: String, signature: WebhookSignature, credentials: String? = nil, for customer: String
    ) async -> WebhookResult {
        let start = ContinuousClock.now
        let endpoint = URL(string: url).map { "\($0.scheme ?? "")://\($0.host ?? ""):\($0.port ?? 0)" } ?? url
        return await limiter.withPlace("\(customer) \(endpoint)") {
            await self.send(url: url, body: body, webhookID: webhookID, signature: signature, credentials: credentials, start: start)
        }
    }

    private func send(
        url: String, body: WebhookBody, webhookID: String, signature: WebhookSignature, credentials: String?, start: ContinuousClock.Instant
    ) async -> WebhookResult {
        let request = WebhookRequest.make(
            url: url, body: body.bytes, contentType: body.contentType, id: webhookID, timestamp: Int(now().timeIntervalSince1970),
            signature: signature, credentials: credentials)
        do {
            let response = try await egress.execute(request, timeout: timeout)
            var text: [UInt8] = []
            var read = 0
            for try await chunk in response.body {
                if text.count < 500 { text += chunk.readableBytesView.prefix(500 - text.count) }
                read += chunk.readableBytes
                if read >= Self.responseLimit { break }
            }
            let code = Int(response.status.code)
            let outcome: WebhookResult.Outcome =
                switch code {
                case 200..<300: .delivered
                case 408, 429: .temporary
                case 400..<500: .refused
                default: .temporary
                }
            var summary = Self.printable(text)
            if (300..<400).contains(code) {
                summary = "redirects are not followed; set the webhook URL to the final address"
                    + (response.headers.first(name: "Location").map { " (Location: \(Self.printable(Array($0.utf8))))" } ?? "")
            }
            return WebhookResult(outcome: outcome, statusCode: code, text: summary, duration: ContinuousClock.now - start)
        } catch let refusal as EgressRefusal {
            // Permanent, and worded so that it tells nothing about what is behind the address.
            return WebhookResult(outcome: .refused, statusCode: nil, text: Self.describe(refusal), duration: ContinuousClock.now - start)
        } catch {
            return WebhookResult(outcome: .temporary, statusCode: nil, text: Self.describe(error), duration: ContinuousClock.now - start)
        }
    }

    /// A refusal as the customer's delivery log and the SMTP client see it.
    static func describe(_ refusal: EgressRefusal) -> String { WebhookRequest.describe(refusal) }

    static func describe(_ error: any Error) -> String { WebhookRequest.describe(error) }

    static func printable(_ bytes: [UInt8]) -> String { WebhookRequest.printable(bytes) }
}

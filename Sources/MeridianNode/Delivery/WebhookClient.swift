import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// A node's HTTP client for webhooks: keep-alive connections, a cap on concurrent requests per endpoint, no
/// redirects, a deadline per request and a bounded read of the response. As a `Service` it lives as long as
/// the node's other services and shuts its connections down when they have ended.
public final class WebhookClient: Service, Sendable {
    private let http: HTTPClient
    private let timeout: TimeAmount
    private let limiter: EndpointLimiter
    private let isShutDown = NIOLockedValueBox(false)
    /// The clock of `webhook-timestamp`.
    private let now: @Sendable () -> Date
    /// Response bytes read at most; the rest of a huge response is not read.
    static let responseLimit = 64 * 1024

    public init(timeout: Duration = .seconds(30), perEndpointConcurrency: Int = 16, now: @escaping @Sendable () -> Date = Date.init) {
        self.now = now
        let timeout = TimeAmount.nanoseconds(timeout.nanoseconds)
        var configuration = HTTPClient.Configuration()
        // A POST must not turn into a GET elsewhere, and a loop must not keep a worker busy: a redirect is
        // reported as such, and the customer fixes the URL.
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: timeout)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: perEndpointConcurrency)
        configuration.decompression = .disabled
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = timeout
        self.limiter = EndpointLimiter(limit: perEndpointConcurrency)
    }

    /// Waits until graceful shutdown or cancellation, then shuts the client down.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Closes the client's connections; a second call does nothing.
    public func shutdown() async throws {
        let first = isShutDown.withLockedValue { done in
            defer { done = true }
            return !done
        }
        if first { try await http.shutdown() }
    }

    /// POSTs `body` with the Standard Webhooks headers; never throws, every failure is a result.
    public func post(url: String, body: [UInt8], webhookID: String, signature: WebhookSignature) async -> WebhookResult {
        let start = ContinuousClock.now
        let endpoint = URL(string: url).map { "\($0.scheme ?? "")://\($0.host ?? ""):\($0.port ?? 0)" } ?? url
        return await limiter.withPlace(endpoint) {
            await self.send(url: url, body: body, webhookID: webhookID, signature: signature, start: start)
        }
    }

    private func send(url: String, body: [UInt8], webhookID: String, signature: WebhookSignature, start: ContinuousClock.Instant) async -> WebhookResult {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Meridian-Webhook/1")
        for header in signature.headers(id: webhookID, timestamp: Int(now().timeIntervalSince1970), body: body) {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await http.execute(request, timeout: timeout)
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
        } catch {
            return WebhookResult(outcome: .temporary, statusCode: nil, text: Self.describe(error), duration: ContinuousClock.now - start)
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "no answer within the webhook timeout"
            case .connectTimeout: return "connection timed out"
            case .remoteConnectionClosed: return "the endpoint closed the connection"
            default: return "HTTP error: \(error)"
            }
        }
        if Self.isConnectionRefused(error) { return "connection refused" }
        return "cannot connect: \(String(describing: error).prefix(200))"
    }

    /// Whether the endpoint refused the connection: ECONNREFUSED, alone or among the addresses tried.
    static func isConnectionRefused(_ error: any Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        if let error = error as? NIOConnectionError { return error.connectionErrors.contains { isConnectionRefused($0.error) } }
        return false
    }

    /// Keeps printable ASCII and spaces, collapses line breaks, at most 500 characters.
    static func printable(_ bytes: [UInt8]) -> String {
        var text = String(decoding: bytes.prefix(500), as: UTF8.self)
        text = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        return text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}

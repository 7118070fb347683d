import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOCore
import NIOHTTP1

/// What a webhook endpoint made of one POST.
public struct WebhookResult: Sendable, Hashable {
    public enum Outcome: String, Sendable {
        /// 2xx.
        case delivered
        /// A 4xx other than 408 and 429: the endpoint refuses the message for good.
        case refused
        /// 5xx, 408, 429, a redirect, a timeout or no connection: worth another try.
        case temporary
    }

    public var outcome: Outcome
    /// The HTTP status, or nil when no response came.
    public var statusCode: Int?
    /// The start of the response body or the error, printable and at most 500 characters.
    public var text: String
    public var duration: Duration

    /// `"200 OK: thanks"` or `"timeout after 30 s"`, as stored in the metadata and shown in SMTP replies.
    public var summary: String {
        guard let statusCode else { return text }
        let reason = HTTPResponseStatus(statusCode: statusCode).reasonPhrase
        return text.isEmpty ? "\(statusCode) \(reason)" : "\(statusCode) \(reason): \(text)"
    }
}

extension DeliveryAttempt {
    /// The delivery-log entry of one POST, made now.
    init(_ result: WebhookResult) {
        self.init(
            at: Date(), durationMilliseconds: Int(result.duration.nanoseconds / 1_000_000), statusCode: result.statusCode,
            outcome: result.outcome.rawValue, detail: result.summary)
    }
}

/// The process's one HTTP client for webhooks: keep-alive connections, a cap on concurrent requests per
/// endpoint, no redirects, a deadline per request and a bounded read of the response.
public final class WebhookClient: Sendable {
    private let http: HTTPClient
    private let timeout: TimeAmount
    private let limiter: EndpointLimiter
    /// Response bytes read at most; the rest of a huge response is not read.
    static let responseLimit = 64 * 1024

    public init(timeout: TimeAmount = .seconds(30), perEndpointConcurrency: Int = 16) {
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

    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// POSTs `body` with the Standard Webhooks headers; never throws, every failure is a result.
    public func post(url: String, body: [UInt8], webhookID: String, signature: WebhookSignature) async -> WebhookResult {
        let start = ContinuousClock.now
        let endpoint = URL(string: url).map { "\($0.scheme ?? "")://\($0.host ?? ""):\($0.port ?? 0)" } ?? url
        await limiter.acquire(endpoint)
        defer { Task { await limiter.release(endpoint) } }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Meridian-Webhook/1")
        for header in signature.headers(id: webhookID, timestamp: Int(Date().timeIntervalSince1970), body: body) {
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
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return "cannot connect: \(text.prefix(200))"
    }

    /// Keeps printable ASCII and spaces, collapses line breaks, at most 500 characters.
    static func printable(_ bytes: [UInt8]) -> String {
        var text = String(decoding: bytes.prefix(500), as: UTF8.self)
        text = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        return text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}

/// Caps concurrent requests per endpoint (scheme, host and port), in arrival order.
actor EndpointLimiter {
    private let limit: Int
    private var active: [String: Int] = [:]
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]

    init(limit: Int) { self.limit = max(1, limit) }

    func acquire(_ endpoint: String) async {
        if active[endpoint, default: 0] < limit {
            active[endpoint, default: 0] += 1
            return
        }
        await withCheckedContinuation { waiting[endpoint, default: []].append($0) }
    }

    func release(_ endpoint: String) {
        if var queue = waiting[endpoint], !queue.isEmpty {
            queue.removeFirst().resume()
            waiting[endpoint] = queue.isEmpty ? nil : queue
        } else {
            active[endpoint, default: 1] -= 1
            if active[endpoint] == 0 { active[endpoint] = nil }
        }
    }
}

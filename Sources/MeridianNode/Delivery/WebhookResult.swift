import Foundation
import MeridianCore
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
    /// The delivery-log entry of one POST made under `configVersion`, ended at `at`.
    init(_ result: WebhookResult, configVersion: Int, at: Date) {
        self.init(
            at: at, durationMilliseconds: Int(result.duration.nanoseconds / 1_000_000), statusCode: result.statusCode,
            outcome: result.outcome.rawValue, detail: result.summary, configVersion: configVersion)
    }
}

import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOCore
import NIOPosix

/// A POST to a customer's webhook as every sender makes it (the node's deliveries, the coordinator's notices and
/// test deliveries): the body's content type, `User-Agent: Meridian-Webhook/1`, the Standard Webhooks headers
/// over the body, and HTTP Basic credentials when the customer's URL had them. Sent through an ``EgressClient``.
public enum WebhookRequest {
    public static func make(
        url: String, body: [UInt8], contentType: String, id: String, timestamp: Int, signature: WebhookSignature, credentials: String?
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "User-Agent", value: "Meridian-Webhook/1")
        if let credentials { request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString()) }
        for header in signature.headers(id: id, timestamp: timestamp, body: body) {
            request.headers.add(name: header.name, value: header.value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    /// Why a request got no answer, in words for the customer's delivery log and the dashboard: never more of
    /// the error than its kind. `timeout` names the deadline ("the webhook timeout", "15 seconds").
    public static func describe(_ error: any Error, timeout: String = "the webhook timeout") -> String {
        if let error = error as? EgressConnectFailure { return error.reason }
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "no answer within \(timeout)"
            case .connectTimeout: return "connection timed out"
            case .remoteConnectionClosed: return "the endpoint closed the connection"
            default: return "HTTP error: \(error)"
            }
        }
        if isConnectionRefused(error) { return "connection refused" }
        return "cannot connect: \(String(describing: error).prefix(200))"
    }

    /// A refusal by the egress rules, worded so that it tells nothing about what is behind the address.
    public static func describe(_ refusal: EgressRefusal) -> String {
        switch refusal.rule {
        case .scheme, .malformed: "the webhook URL is not allowed: \(refusal.reason)"
        case .address: "the webhook URL is not allowed: its host is not a public address"
        }
    }

    /// Whether the endpoint refused the connection: ECONNREFUSED, alone or among the addresses tried.
    public static func isConnectionRefused(_ error: any Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        if let error = error as? NIOConnectionError { return error.connectionErrors.contains { isConnectionRefused($0.error) } }
        return false
    }

    /// An endpoint's answer for people: printable ASCII and spaces, line breaks collapsed, at most 500 characters.
    public static func printable(_ bytes: [UInt8]) -> String {
        var text = String(decoding: bytes.prefix(500), as: UTF8.self)
        text = String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        return text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}

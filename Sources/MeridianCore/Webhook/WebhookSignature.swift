import Crypto
import Foundation

/// Signs webhook deliveries per the Standard Webhooks specification, so any Standard Webhooks library
/// verifies them: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the bytes
/// of the customer's `whsec_` secret.
public struct WebhookSignature: Sendable {
    private let key: SymmetricKey

    public struct InvalidSecret: Error, CustomStringConvertible {
        public var description: String { "a webhook secret is \"whsec_\" followed by base64 of at least 24 bytes" }
    }

    public init(secret: String) throws(InvalidSecret) {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let bytes = Data(base64Encoded: encoded), bytes.count >= 24, bytes.count <= 64 else { throw InvalidSecret() }
        key = SymmetricKey(data: bytes)
    }

    /// The `v1,` signature of one delivery.
    public func sign(id: String, timestamp: Int, body: [UInt8]) -> String {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return "v1," + Data(hmac.finalize()).base64EncodedString()
    }

    /// The three headers of a delivery. `id` must stay the same across retries so receivers de-duplicate.
    public func headers(id: String, timestamp: Int, body: [UInt8]) -> [(name: String, value: String)] {
        [("webhook-id", id), ("webhook-timestamp", String(timestamp)), ("webhook-signature", sign(id: id, timestamp: timestamp, body: body))]
    }

    /// Whether `signatureHeader` (space-separated `v1,...` entries) holds a valid signature of the delivery.
    public func verify(id: String, timestamp: Int, body: [UInt8], signatureHeader: String) -> Bool {
        let expected = Data(sign(id: id, timestamp: timestamp, body: body).utf8)
        return signatureHeader.split(separator: " ").contains { candidate in
            let given = Data(candidate.utf8)
            return given.count == expected.count && zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    /// A delivery id: `msg_` and a ULID, sortable by creation time.
    public static func makeMessageID() -> String { ResourceID.make(prefix: "msg") }
}

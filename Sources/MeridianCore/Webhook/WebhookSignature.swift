import Crypto
import Foundation

/// Signs webhook deliveries per the Standard Webhooks specification, so any Standard Webhooks library
/// verifies them: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the bytes
/// of the customer's `whsec_` secret. While a rotated secret overlaps the new one, each delivery carries a
/// signature with each (space-separated, as Standard Webhooks allows), so receivers holding either verify it.
public struct WebhookSignature: Sendable {
    private let key: SymmetricKey
    /// The secret being rotated out, still signed with until its overlap ends.
    private let previousKey: SymmetricKey?

    public struct InvalidSecret: Error, CustomStringConvertible {
        public var description: String { "a webhook secret is \"whsec_\" followed by base64 of at least 24 bytes" }
    }

    public init(secret: String, previous: String? = nil) throws(InvalidSecret) {
        key = try Self.key(secret)
        previousKey = try previous.map(Self.key)
    }

    private static func key(_ secret: String) throws(InvalidSecret) -> SymmetricKey {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let bytes = Data(base64Encoded: encoded), bytes.count >= 24, bytes.count <= 64 else { throw InvalidSecret() }
        return SymmetricKey(data: bytes)
    }

    /// The `v1,` signature of one delivery, and a second with the previous secret while it overlaps.
    public func sign(id: String, timestamp: Int, body: [UInt8]) -> String {
        ([key] + (previousKey.map { [$0] } ?? [])).map { Self.sign(id: id, timestamp: timestamp, body: body, key: $0) }.joined(separator: " ")
    }

    private static func sign(id: String, timestamp: Int, body: [UInt8], key: SymmetricKey) -> String {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return "v1," + Data(hmac.finalize()).base64EncodedString()
    }

    /// The three headers of a delivery. `id` must stay the same across retries so receivers de-duplicate.
    public func headers(id: String, timestamp: Int, body: [UInt8]) -> [(name: String, value: String)] {
        [("webhook-id", id), ("webhook-timestamp", String(timestamp)), ("webhook-signature", sign(id: id, timestamp: timestamp, body: body))]
    }

    /// Whether `signatureHeader` (space-separated `v1,...` entries) holds a valid signature of the delivery with
    /// the current secret.
    public func verify(id: String, timestamp: Int, body: [UInt8], signatureHeader: String) -> Bool {
        let expected = Data(Self.sign(id: id, timestamp: timestamp, body: body, key: key).utf8)
        return signatureHeader.split(separator: " ").contains { candidate in
            let given = Data(candidate.utf8)
            return given.count == expected.count && zip(given, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    /// A delivery id: `msg_` and a ULID, sortable by creation time.
    public static func makeMessageID() -> String { ResourceID.make(prefix: "msg") }
}

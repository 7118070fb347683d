import Foundation

/// A node's answer to a ``MessageQuery``: where the records live and the records. Each record goes on the wire
/// with its region, node and time of arrival beside its own fields, as the coordinator's API shows it.
public struct MessagePage: Sendable, Codable {
    public var region: String
    public var node: String
    public var messages: [DeliveryRecord]
    /// Each record's place in the order of answers (``MessageQuery/Cursor``), as the node wrote it: exact to the
    /// millisecond, which the records' RFC 3339 times are not. Nil from a node older than cursors.
    public var cursors: [MessageQuery.Cursor?]

    public init(region: String, node: String, messages: [DeliveryRecord]) {
        self.region = region
        self.node = node
        self.messages = messages
        self.cursors = messages.map(MessageQuery.Cursor.init(after:))
    }

    enum CodingKeys: String, CodingKey { case region, node, messages }

    private struct CursorField: Decodable {
        var cursor: String?
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        region = try container.decode(String.self, forKey: .region)
        node = try container.decode(String.self, forKey: .node)
        messages = try container.decode([DeliveryRecord].self, forKey: .messages)
        cursors = try container.decode([CursorField].self, forKey: .messages).map { $0.cursor.flatMap(MessageQuery.Cursor.init) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(region, forKey: .region)
        try container.encode(node, forKey: .node)
        try container.encode(messages.map { Placed(region: region, node: node, record: $0) }, forKey: .messages)
    }

    /// A record with where it lives and when it arrived beside its fields.
    private struct Placed: Encodable {
        var region: String
        var node: String
        var record: DeliveryRecord

        enum Keys: String, CodingKey { case region, node, cursor, receivedAt = "received_at" }

        func encode(to encoder: any Encoder) throws {
            try record.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(region, forKey: .region)
            try container.encode(node, forKey: .node)
            try container.encode(record.metadata.receivedAt, forKey: .receivedAt)
            try container.encode(MessageQuery.Cursor(after: record).description, forKey: .cursor)
        }
    }
}

import Foundation

/// What the coordinator asks a node to do with held messages of one customer (`POST /v1/quarantine`).
public struct QuarantineAction: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// Deliver now, through the normal path, under the config in force.
        case release
        /// Delete without delivering.
        case delete
    }

    public var action: Kind
    public var customerID: String
    public var messageIDs: [String]
    /// Who asked, for the node's log and the records (`customer:cus_…`, `support:tok_…`).
    public var actor: String

    public static let messageLimit = 100

    public init(action: Kind, customerID: String, messageIDs: [String], actor: String) {
        self.action = action
        self.customerID = customerID
        self.messageIDs = messageIDs
        self.actor = actor
    }

    enum CodingKeys: String, CodingKey {
        case action, customerID = "customer_id", messageIDs = "message_ids", actor
    }
}

/// What became of one message of a ``QuarantineAction``.
public struct QuarantineOutcome: Sendable, Codable, Equatable {
    public enum Result: String, Sendable, Codable {
        case released, deleted
        /// This node holds no such message for the customer (another node may).
        case notFound = "not_found"
        /// Released before and still being delivered; try again once that is done.
        case busy
    }

    public var messageID: String
    public var result: Result
    public var detail: String?

    public init(messageID: String, result: Result, detail: String? = nil) {
        self.messageID = messageID
        self.result = result
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey { case messageID = "message_id", result, detail }
}

/// A held message as its customer may look at it before deciding: the envelope, the verdicts, the header
/// fields and the text (at most ``textLimit`` bytes), and the attachments by name and size only.
public struct QuarantinePreview: Sendable, Codable, Equatable {
    public struct Header: Sendable, Codable, Equatable {
        public var name: String
        public var value: String
    }

    public struct Attachment: Sendable, Codable, Equatable {
        public var fileName: String?
        public var contentType: String
        public var size: Int

        enum CodingKeys: String, CodingKey { case fileName = "file_name", contentType = "content_type", size }
    }

    public var messageID: String
    public var region: String
    public var receivedAt: Date
    public var from: String
    /// The customer's recipients of the message.
    public var recipients: [String]
    public var reason: String
    public var scan: ContentScan?
    public var authentication: SenderAuthentication?
    public var headers: [Header]
    public var text: String?
    public var textTruncated: Bool
    public var attachments: [Attachment]

    public static let textLimit = 64 * 1024

    public init(
        messageID: String, region: String, receivedAt: Date, from: String, recipients: [String], reason: String, scan: ContentScan?,
        authentication: SenderAuthentication?, message: MIMEMessage
    ) {
        self.messageID = messageID
        self.region = region
        self.receivedAt = receivedAt
        self.from = from
        self.recipients = recipients
        self.reason = reason
        self.scan = scan
        self.authentication = authentication
        headers = message.headers.map { Header(name: $0.name, value: $0.value) }
        let content = MessageContent(message)
        let plain = content.plain
        textTruncated = (plain?.utf8.count ?? 0) > Self.textLimit
        text = plain.map { String(decoding: $0.utf8.prefix(Self.textLimit), as: UTF8.self) }
        attachments = content.attachments.map { Attachment(fileName: $0.fileName, contentType: $0.contentType, size: $0.size) }
    }

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id", region, receivedAt = "received_at", from, recipients, reason, scan, authentication, headers, text
        case textTruncated = "text_truncated", attachments
    }
}

import Foundation

/// What the coordinator asks a node's metadata store for (`GET /v1/messages`): a customer's deliveries,
/// narrowed by time, message, sender, recipient, status or subject, newest first, after a cursor.
public struct MessageQuery: Sendable, Hashable {
    public var customerID: String
    public var since: Date?
    public var until: Date?
    /// Meridian's message id (`eml_…`) or the message's own `Message-ID`.
    public var messageID: String?
    public var sender: String?
    public var recipient: String?
    public var status: DeliveryStatus?
    /// Part of the subject, compared without regard to case.
    public var subject: String?
    /// Only deliveries after this one in the order of the answer (newest first): the next page.
    public var after: Cursor?
    public var limit: Int = 100

    public init(customerID: String) { self.customerID = customerID }

    /// A position in the order of every answer, received time descending, then message id and recipient
    /// ascending: the same on every node, so pages of a query merged from several regions neither skip nor repeat.
    /// Written `<milliseconds>.<message id>.<recipient>`.
    public struct Cursor: Sendable, Hashable, CustomStringConvertible {
        public var receivedAtMillis: Int64
        public var messageID: String
        public var recipient: Int

        public init(receivedAtMillis: Int64, messageID: String, recipient: Int) {
            self.receivedAtMillis = receivedAtMillis
            self.messageID = messageID
            self.recipient = recipient
        }

        /// The cursor just past `record`.
        public init(after record: DeliveryRecord) {
            self.init(
                receivedAtMillis: Int64((record.metadata.receivedAt.timeIntervalSince1970 * 1000).rounded()), messageID: record.messageID,
                recipient: record.recipient)
        }

        public init?(_ text: String) {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, let millis = Int64(parts[0]), millis >= 0, !parts[1].isEmpty, parts[1].count <= 64,
                parts[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }), let recipient = Int(parts[2]), recipient >= 0
            else { return nil }
            self.init(receivedAtMillis: millis, messageID: String(parts[1]), recipient: recipient)
        }

        public var description: String { "\(receivedAtMillis).\(messageID).\(recipient)" }
    }

    static let names = ["customer_id", "since", "until", "message_id", "sender", "recipient", "status", "subject", "after", "limit"]

    /// The query parameters, in order, times in RFC 3339.
    public var parameters: [(name: String, value: String)] {
        let formatter = ISO8601DateFormatter()
        var parameters = [("customer_id", customerID), ("limit", "\(limit)")]
        if let since { parameters.append(("since", formatter.string(from: since))) }
        if let until { parameters.append(("until", formatter.string(from: until))) }
        if let messageID { parameters.append(("message_id", messageID)) }
        if let sender { parameters.append(("sender", sender)) }
        if let recipient { parameters.append(("recipient", recipient)) }
        if let status { parameters.append(("status", status.rawValue)) }
        if let subject { parameters.append(("subject", subject)) }
        if let after { parameters.append(("after", after.description)) }
        return parameters
    }

    /// Reads the query parameters a node received; an unknown or malformed one is a ``CoreError`` naming it.
    public init(parameters: [(name: String, value: String)]) throws(CoreError) {
        var values: [String: String] = [:]
        for (name, value) in parameters {
            guard Self.names.contains(name) else {
                throw CoreError(.protocolMessageMalformed, "unknown query parameter \"\(name)\"; known: \(Self.names.sorted().joined(separator: ", "))")
            }
            values[name] = value
        }
        guard let customer = values["customer_id"], !customer.isEmpty else {
            throw CoreError(.protocolMessageMalformed, "customer_id is required")
        }
        self.init(customerID: customer)
        func date(_ name: String) throws(CoreError) -> Date? {
            guard let text = values[name] else { return nil }
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw CoreError(.protocolMessageMalformed, "\(name) \"\(text)\" is not an RFC 3339 time such as 2026-11-23T10:00:00Z")
            }
            return date
        }
        since = try date("since")
        until = try date("until")
        messageID = values["message_id"]
        sender = values["sender"]
        recipient = values["recipient"]
        if let text = values["status"] {
            guard let status = DeliveryStatus(rawValue: text) else {
                throw CoreError(
                    .protocolMessageMalformed, "status \"\(text)\" is not one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.status = status
        }
        subject = values["subject"]
        if let text = values["after"] {
            guard let cursor = Cursor(text) else {
                throw CoreError(.protocolMessageMalformed, "after \"\(text)\" is not a cursor from a previous answer")
            }
            after = cursor
        }
        if let text = values["limit"] {
            guard let limit = Int(text), (1...1000).contains(limit) else {
                throw CoreError(.protocolMessageMalformed, "limit \"\(text)\" must be a whole number from 1 to 1000")
            }
            self.limit = limit
        }
    }
}

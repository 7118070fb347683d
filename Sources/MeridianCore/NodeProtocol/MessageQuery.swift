import Foundation

/// What the coordinator asks a node's metadata store for (`GET /v1/messages`): a customer's deliveries,
/// narrowed by time, message, sender or recipient, newest first.
public struct MessageQuery: Sendable, Hashable {
    public var customerID: String
    public var since: Date?
    public var until: Date?
    /// Meridian's message id (`eml_…`) or the message's own `Message-ID`.
    public var messageID: String?
    public var sender: String?
    public var recipient: String?
    public var limit: Int = 100

    public init(customerID: String) { self.customerID = customerID }

    static let names = ["customer_id", "since", "until", "message_id", "sender", "recipient", "limit"]

    /// The query parameters, in order, times in RFC 3339.
    public var parameters: [(name: String, value: String)] {
        let formatter = ISO8601DateFormatter()
        var parameters = [("customer_id", customerID), ("limit", "\(limit)")]
        if let since { parameters.append(("since", formatter.string(from: since))) }
        if let until { parameters.append(("until", formatter.string(from: until))) }
        if let messageID { parameters.append(("message_id", messageID)) }
        if let sender { parameters.append(("sender", sender)) }
        if let recipient { parameters.append(("recipient", recipient)) }
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
        if let text = values["limit"] {
            guard let limit = Int(text), (1...1000).contains(limit) else {
                throw CoreError(.protocolMessageMalformed, "limit \"\(text)\" must be a whole number from 1 to 1000")
            }
            self.limit = limit
        }
    }
}

import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

extension AdminAPI {
    /// Federates a metadata query across every regional node. Each node searches its own store; only the
    /// matching records come back, and they are merged newest first.
    func listCustomerMessages(_ request: Operations.ListCustomerMessages.Input) async throws -> Operations.ListCustomerMessages.Output {
        let record = try await customer(request.path.customerId)
        let query = request.query
        if let since = query.since, let until = query.until, since >= until {
            throw Problem(.badRequest, "since (\(since)) must be before until (\(until))", field: "since")
        }
        let limit = query.limit ?? 100
        guard (1...1000).contains(limit) else { throw Problem(.badRequest, "limit must be from 1 to 1000, not \(limit)", field: "limit") }
        var asked = MessageQuery(customerID: record.id)
        asked.limit = limit
        (asked.since, asked.until) = (query.since, query.until)
        (asked.messageID, asked.sender, asked.recipient) = (query.messageId, query.sender, query.recipient)
        asked.status = query.status.flatMap { DeliveryStatus(rawValue: $0.rawValue) }
        asked.subject = query.subject
        if let after = query.after {
            guard let cursor = MessageQuery.Cursor(after) else {
                throw Problem(.badRequest, "after \"\(after)\" is not a cursor from a previous answer (its next_cursor)", field: "after")
            }
            asked.after = cursor
        }
        let detail = asked.parameters.dropFirst().map { ($0.name, $0.value) }
        try await recordRead("customer.messages.read", of: record.id, detail: Dictionary(detail, uniquingKeysWith: { a, _ in a }))

        let answers = try await fleet.queryMessages(asked)
        let messages = Array(answers.flatMap(\.records).sorted(by: Self.newestFirst).prefix(limit))
        let sources = answers.map { answer in
            Components.Schemas.MessageSource(
                url: answer.url, region: answer.region, node: answer.node,
                status: .init(rawValue: answer.status.rawValue) ?? .error, count: answer.records.count, detail: answer.detail)
        }
        let next = messages.count == limit ? messages.last?.cursor : nil
        return .ok(.init(body: .json(.init(customerId: record.id, messages: messages, nextCursor: next, sources: sources))))
    }

    /// The order of every answer, the nodes' own: received time (to the millisecond, from the cursor a node
    /// wrote) descending, then message id and recipient ascending.
    static func newestFirst(_ a: Components.Schemas.MessageRecord, _ b: Components.Schemas.MessageRecord) -> Bool {
        func key(_ record: Components.Schemas.MessageRecord) -> (Int64, String, Int) {
            let millis = record.cursor.flatMap(MessageQuery.Cursor.init)?.receivedAtMillis ?? Int64(record.receivedAt.timeIntervalSince1970 * 1000)
            return (millis, record.messageId, record.recipient)
        }
        let (x, y) = (key(a), key(b))
        return (x.0, y.1, y.2) > (y.0, x.1, x.2)
    }
}

extension AdminAPI {
    func getCustomerMessage(_ request: Operations.GetCustomerMessage.Input) async throws -> Operations.GetCustomerMessage.Output {
        let record = try await customer(request.path.customerId)
        let key = DeliveryKey(messageID: request.path.messageId, recipient: request.path.recipient)
        try await recordRead("customer.message.read", of: record.id, detail: ["message_id": key.messageID, "recipient": "\(key.recipient)"])
        let (found, unanswered) = try await fleet.delivery(customer: record.id, key: key)
        guard let found else { throw Self.notFound(key, of: record.id, unanswered: unanswered) }
        return .ok(.init(body: .json(try .init(found))))
    }

    func redeliverMessage(_ request: Operations.RedeliverMessage.Input) async throws -> Operations.RedeliverMessage.Output {
        let record = try await customer(request.path.customerId)
        let key = DeliveryKey(messageID: request.path.messageId, recipient: request.path.recipient)
        guard let answer = try await fleet.redeliver(customer: record.id, key: key) else {
            throw Self.notFound(key, of: record.id, unanswered: 0)
        }
        try await audit.record(
            AuditEvent("message.redeliver", target: record.id, detail: [
                "message_id": key.messageID, "recipient": "\(key.recipient)", "outcome": answer.outcome.rawValue,
            ]), by: try caller.actor, at: now())
        guard answer.outcome != .notInSpool else {
            throw Problem.conflict(
                "\(key.messageID)/\(key.recipient) is \(answer.status.rawValue) and no longer in the spool: nothing is left to deliver")
        }
        return .ok(.init(body: .json(.init(outcome: .init(rawValue: answer.outcome.rawValue) ?? .due, status: answer.status.rawValue))))
    }

    static func notFound(_ key: DeliveryKey, of customer: String, unanswered: Int) -> Problem {
        let more = unanswered == 0 ? "" : " (\(unanswered) node\(unanswered == 1 ? "" : "s") did not answer and may hold it)"
        return Problem.notFound("customer \(customer) has no delivery \(key.messageID)/\(key.recipient) on any node\(more)")
    }
}

extension Components.Schemas.MessageDetail {
    init(_ found: NodeFleet.FoundDelivery) throws {
        var message = try Components.Schemas.MessageRecord(found.detail.delivery, region: found.region, node: found.node)
        message.cursor = MessageQuery.Cursor(after: found.detail.delivery).description
        self.init(
            message: message,
            attempts: found.detail.attempts.map {
                .init(
                    at: $0.at, durationMs: $0.durationMilliseconds, statusCode: $0.statusCode, outcome: $0.outcome, detail: $0.detail,
                    configVersion: $0.configVersion)
            })
    }
}

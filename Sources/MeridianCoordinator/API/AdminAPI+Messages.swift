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
        let detail = asked.parameters.dropFirst().map { ($0.name, $0.value) }
        try await recordRead("customer.messages.read", of: record.id, detail: Dictionary(detail, uniquingKeysWith: { a, _ in a }))

        let answers = try await fleet.queryMessages(asked)
        let messages = answers.flatMap(\.records)
            .sorted { ($0.receivedAt, $1.messageId, $1.recipient) > ($1.receivedAt, $0.messageId, $0.recipient) }
            .prefix(limit)
        let sources = answers.map { answer in
            Components.Schemas.MessageSource(
                url: answer.url, region: answer.region, node: answer.node,
                status: .init(rawValue: answer.status.rawValue) ?? .error, count: answer.records.count, detail: answer.detail)
        }
        return .ok(.init(body: .json(.init(customerId: record.id, messages: Array(messages), sources: sources))))
    }
}

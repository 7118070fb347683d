import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer
import OpenAPIRuntime

/// The customer's quarantine, federated over the regions: each node holds what it received and acts on it.
/// Reads are recorded like the message log's; releases and deletions are audited with what each message became.
extension AdminAPI {
    func listQuarantine(_ request: Operations.ListQuarantine.Input) async throws -> Operations.ListQuarantine.Output {
        let record = try await customer(request.path.customerId)
        let limit = request.query.limit ?? 100
        guard (1...1000).contains(limit) else { throw Problem(.badRequest, "limit must be from 1 to 1000, not \(limit)", field: "limit") }
        try await recordRead("customer.quarantine.read", of: record.id)
        let answers = try await fleet.quarantined(customer: record.id, limit: limit)
        let messages = answers.flatMap(\.records)
            .sorted { ($0.receivedAt, $1.messageId, $1.recipient) > ($1.receivedAt, $0.messageId, $0.recipient) }
            .prefix(limit)
        let sources = answers.map { answer in
            Components.Schemas.MessageSource(
                url: answer.url, region: answer.region, node: answer.node, status: .init(rawValue: answer.status.rawValue) ?? .error,
                count: answer.records.count, detail: answer.detail)
        }
        return .ok(.init(body: .json(.init(customerId: record.id, messages: Array(messages), sources: sources))))
    }

    func previewQuarantined(_ request: Operations.PreviewQuarantined.Input) async throws -> Operations.PreviewQuarantined.Output {
        let record = try await customer(request.path.customerId)
        let id = request.path.messageId
        try await recordRead("customer.quarantine.preview", of: record.id, detail: ["message_id": id])
        guard let preview = try await fleet.preview(customer: record.id, messageID: id) else {
            throw Problem(.notFound, "no region holds \(id) in the quarantine of \(record.id) (released, deleted or expired already?)")
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return .ok(.init(body: .json(try decoder.decode(Components.Schemas.QuarantinePreview.self, from: try encoder.encode(preview)))))
    }

    func releaseQuarantined(_ request: Operations.ReleaseQuarantined.Input) async throws -> Operations.ReleaseQuarantined.Output {
        guard case .json(let body) = request.body else { throw Problem.invalid("body", "expected {\"message_ids\": [...]}") }
        return .ok(.init(body: .json(try await act(.release, on: request.path.customerId, body.messageIds))))
    }

    func deleteQuarantined(_ request: Operations.DeleteQuarantined.Input) async throws -> Operations.DeleteQuarantined.Output {
        guard case .json(let body) = request.body else { throw Problem.invalid("body", "expected {\"message_ids\": [...]}") }
        return .ok(.init(body: .json(try await act(.delete, on: request.path.customerId, body.messageIds))))
    }

    private func act(_ kind: QuarantineAction.Kind, on customerID: String, _ ids: [String]) async throws -> Components.Schemas.QuarantineOutcomes {
        guard (1...QuarantineAction.messageLimit).contains(ids.count) else {
            throw Problem(.badRequest, "message_ids must hold 1 to \(QuarantineAction.messageLimit) message ids, not \(ids.count)", field: "message_ids")
        }
        let record = try await customer(customerID)
        let caller = try self.caller
        let unique = Array(NSOrderedSet(array: ids).array as? [String] ?? ids)
        let outcomes = try await fleet.act(
            QuarantineAction(action: kind, customerID: record.id, messageIDs: unique, actor: "\(caller.role.rawValue):\(caller.token.id)"))
        var detail: [String: String] = [:]
        for outcome in outcomes { detail[outcome.messageID] = outcome.result.rawValue }
        try await audit.record(AuditEvent("customer.quarantine.\(kind.rawValue)", target: record.id, detail: detail), by: caller.actor, at: now())
        return .init(
            outcomes: outcomes.map {
                .init(messageId: $0.messageID, result: .init(rawValue: $0.result.rawValue) ?? .notFound, detail: $0.detail)
            })
    }
}

import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

/// The SMTP protocol logs, for the security role: asked of every node, merged oldest first, every read audited.
extension AdminAPI {
    func listSMTPProtocolLog(_ request: Operations.ListSMTPProtocolLog.Input) async throws -> Operations.ListSMTPProtocolLog.Output {
        let query = request.query
        if let since = query.since, let until = query.until, since >= until {
            throw Problem(.badRequest, "since (\(since)) must be before until (\(until))", field: "since")
        }
        let limit = query.limit ?? 100
        guard (1...1000).contains(limit) else { throw Problem(.badRequest, "limit must be from 1 to 1000, not \(limit)", field: "limit") }
        let formatter = ISO8601DateFormatter()
        var items: [(name: String, value: String)] = [("limit", "\(limit)")]
        if let since = query.since { items.append(("since", formatter.string(from: since))) }
        if let until = query.until { items.append(("until", formatter.string(from: until))) }
        if let ip = query.clientIp { items.append(("client_ip", ip)) }
        if let address = query.address { items.append(("address", address.lowercased())) }
        try await audit.record(
            AuditEvent("smtp_log.read", target: "smtp-log", detail: Dictionary(items.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })),
            by: try caller.actor, at: now())
        let answers = try await fleet.protocolLog(items)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var sessions: [Components.Schemas.SMTPProtocolLog.SessionsPayloadPayload] = []
        for answer in answers {
            guard let page = answer.page else { continue }
            for record in page.sessions {
                var session = try decoder.decode(Components.Schemas.SMTPProtocolLog.SessionsPayloadPayload.self, from: try encoder.encode(record))
                session.region = page.region
                sessions.append(session)
            }
        }
        sessions.sort { ($0.startedAt, $0.session) < ($1.startedAt, $1.session) }
        let sources = answers.map { answer in
            Components.Schemas.MessageSource(
                url: answer.url, region: answer.page?.region, node: answer.page?.node, status: .init(rawValue: answer.status.rawValue) ?? .error,
                count: answer.page?.sessions.count ?? 0, detail: answer.detail)
        }
        return .ok(.init(body: .json(.init(sessions: sessions, sources: sources))))
    }
}

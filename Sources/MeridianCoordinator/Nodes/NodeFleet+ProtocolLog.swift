import AsyncHTTPClient
import Foundation
import MeridianCore

/// The SMTP protocol logs across regions: each node keeps its own sessions.
extension NodeFleet {
    public struct ProtocolLogAnswer: Sendable {
        public var url: String
        public var status: NodeAnswer.Status
        public var page: ProtocolLogPage?
        public var detail: String?
    }

    public func protocolLog(_ items: [(name: String, value: String)]) async throws -> [ProtocolLogAnswer] {
        try await everyNode { base in
            guard let url = NodeFleet.url(base, path: NodeProtocol.protocolLogPath, items: items) else { return ProtocolLogAnswer(url: base, status: .error, detail: "cannot build the query URL") }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            do {
                let response = try await self.http.execute(self.pusher.request(url), timeout: self.timeout)
                let body = Data(buffer: try await response.body.collect(upTo: NodeProtocol.maximumMessagePageSize))
                guard response.status == .ok else {
                    return ProtocolLogAnswer(url: base, status: .error, detail: "the node answered \(response.status.code): \(ProblemDetails.detail(of: body))")
                }
                return ProtocolLogAnswer(url: base, status: .ok, page: try decoder.decode(ProtocolLogPage.self, from: body))
            } catch let error as DecodingError {
                return ProtocolLogAnswer(url: base, status: .error, detail: "the node's answer does not decode: \(error)")
            } catch {
                return ProtocolLogAnswer(url: base, status: .unreachable, detail: "\(error)")
            }
        }
    }
}

import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOCore

/// One delivery across regions: a message is on the node that accepted it, so each call asks every node and
/// takes the answer of the one that has it (and that says it is the customer's).
extension NodeFleet {
    /// A delivery found on a node, with where it lives.
    public struct FoundDelivery: Sendable {
        public var region: String
        public var node: String
        public var detail: DeliveryDetail
    }

    /// The customer's delivery `key` with its attempts, or nil when no node that answered has it; `unanswered`
    /// counts the nodes that did not answer (so "not found" may mean "not reachable").
    public func delivery(customer: String, key: DeliveryKey) async throws -> (found: FoundDelivery?, unanswered: Int) {
        let answers: [(FoundDelivery?, Bool)] = try await everyNode { base in
            let path = "/v1/messages/\(Self.escaped(key.messageID))/\(key.recipient)"
            guard let url = NodeFleet.url(base, path: path, items: []) else { return (nil, true) }
            guard let response = try? await self.http.execute(self.pusher.request(url), timeout: self.timeout) else { return (nil, false) }
            guard response.status == .ok, let body = try? await response.body.collect(upTo: NodeProtocol.maximumMessagePageSize) else {
                return (nil, response.status == .notFound)
            }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            guard let detail = try? decoder.decode(DeliveryDetail.self, from: Data(buffer: body)), detail.delivery.customerID == customer else {
                return (nil, true)
            }
            let holder = try? await self.nodes.nodes().first { $0.controlURL == base }
            return (FoundDelivery(region: holder?.region ?? "", node: holder?.id ?? base, detail: detail), true)
        }
        return (answers.compactMap(\.0).first, answers.filter { !$0.1 }.count)
    }

    /// Asks the node holding the customer's delivery to attempt it now; nil when no node has it.
    public func redeliver(customer: String, key: DeliveryKey) async throws -> RedeliveryAnswer? {
        let answers: [RedeliveryAnswer?] = try await everyNode { base in
            let path = "/v1/messages/\(Self.escaped(key.messageID))/\(key.recipient)/redeliver"
            guard let url = NodeFleet.url(base, path: path, items: [("customer_id", customer)]) else { return nil }
            var request = self.pusher.request(url)
            request.method = .POST
            guard let response = try? await self.http.execute(request, timeout: self.timeout), response.status == .ok,
                let body = try? await response.body.collect(upTo: 64 * 1024)
            else { return nil }
            return try? JSONDecoder().decode(RedeliveryAnswer.self, from: Data(buffer: body))
        }
        return answers.compactMap { $0 }.first
    }

    /// A message id as one path segment.
    static func escaped(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? id
    }
}

import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOCore

/// The quarantine across regions: each node holds what it received, so every call asks every node.
extension NodeFleet {
    /// The customer's held deliveries from every node (a node that does not answer is an answer too).
    public func quarantined(customer: String, limit: Int) async throws -> [NodeAnswer] {
        try await everyNode { base in
            await self.page(base, path: NodeProtocol.quarantinePath, items: [("customer_id", customer), ("limit", "\(limit)")])
        }
    }

    /// The held message from whichever node holds it; nil when none does.
    public func preview(customer: String, messageID: String) async throws -> QuarantinePreview? {
        let answers: [QuarantinePreview?] = try await everyNode { base in
            guard let url = NodeFleet.url(base, path: NodeProtocol.quarantinePath + "/" + messageID, items: [("customer_id", customer)]) else {
                return nil
            }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            guard let response = try? await self.http.execute(self.pusher.request(url), timeout: self.timeout), response.status == .ok,
                let body = try? await response.body.collect(upTo: NodeProtocol.maximumMessagePageSize)
            else { return nil }
            return try? decoder.decode(QuarantinePreview.self, from: Data(buffer: body))
        }
        return answers.compactMap { $0 }.first
    }

    /// Sends the action to every node and merges what each did with each message: a node that released or
    /// deleted it wins; else `busy` if one says so; else `not_found`.
    public func act(_ action: QuarantineAction) async throws -> [QuarantineOutcome] {
        let body = try JSONEncoder().encode(action)
        let answers: [[QuarantineOutcome]] = try await everyNode { base in
            var request = self.pusher.request(base + NodeProtocol.quarantinePath)
            request.method = .POST
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
            guard let response = try? await self.http.execute(request, timeout: self.timeout), response.status == .ok,
                let answer = try? await response.body.collect(upTo: 1 << 20)
            else { return [] }
            return (try? JSONDecoder().decode([QuarantineOutcome].self, from: Data(buffer: answer))) ?? []
        }
        return action.messageIDs.map { id in
            let said = answers.flatMap { $0 }.filter { $0.messageID == id }
            return said.first { $0.result == .released || $0.result == .deleted } ?? said.first { $0.result == .busy }
                ?? QuarantineOutcome(messageID: id, result: .notFound)
        }
    }

    /// Runs `body` for every node that takes pushes, at once, answers in node order.
    func everyNode<T: Sendable>(_ body: @escaping @Sendable (String) async -> T) async throws -> [T] {
        let nodes = try await self.nodes.nodes().filter(\.takesPushes)
        return await withTaskGroup(of: (Int, T).self) { group in
            for (index, node) in nodes.enumerated() {
                group.addTask { (index, await body(node.controlURL)) }
            }
            var answers: [(Int, T)] = []
            for await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

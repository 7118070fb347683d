import AsyncHTTPClient
import Foundation
import MeridianAPI
import MeridianCore
import NIOCore
import OpenAPIRuntime

/// The regional nodes as the coordinator asks them for a customer's messages (`GET /v1/messages`, over mutual
/// TLS): every active node in the `nodes` table, which pulls and pushes also use, so there is one list of nodes.
public struct NodeFleet: Sendable {
    let nodes: NodeRepository
    let pusher: NodePusher
    let timeout: TimeAmount
    /// The process-wide shared client: it needs no shutdown, and a fleet may come and go with a test.
    var http: HTTPClient { HTTPClient.shared }

    public init(nodes: NodeRepository, pusher: NodePusher, timeout: TimeAmount = .seconds(5)) {
        self.nodes = nodes
        self.pusher = pusher
        self.timeout = timeout
    }

    /// One node's answer to a metadata query.
    public struct NodeAnswer: Sendable {
        public enum Status: String, Sendable { case ok, unreachable, error }
        public var url: String
        public var status: Status
        public var region: String?
        public var node: String?
        public var records: [Components.Schemas.MessageRecord]
        public var detail: String?
    }

    /// Asks every node at once; an unreachable node is an answer too, never an error.
    public func queryMessages(_ query: MessageQuery) async throws -> [NodeAnswer] {
        try await everyNode { base in await self.page(base, path: NodeProtocol.messagesPath, items: query.parameters) }
    }

    /// A ``MessagePage`` from one node at `path` with the query `items`.
    /// The URL of `path` on a node with the query `items`; `+` (in a time zone offset or an address) stays `+`.
    static func url(_ base: String, path: String, items: [(name: String, value: String)]) -> String? {
        var components = URLComponents(string: base + path)
        components?.queryItems = items.map { URLQueryItem(name: $0.name, value: $0.value) }
        let encoded = components?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        components?.percentEncodedQuery = encoded
        return components?.string
    }

    func page(_ base: String, path: String, items: [(name: String, value: String)]) async -> NodeAnswer {
        guard let url = Self.url(base, path: path, items: items) else {
            return NodeAnswer(url: base, status: .error, records: [], detail: "cannot build the query URL")
        }
        let request = pusher.request(url)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = Data(buffer: try await response.body.collect(upTo: NodeProtocol.maximumMessagePageSize))
            guard response.status == .ok else {
                return NodeAnswer(
                    url: base, status: .error, records: [], detail: "the node answered \(response.status.code): \(ProblemDetails.detail(of: body))")
            }
            let page = try decoder.decode(MessagePage.self, from: body)
            return NodeAnswer(
                url: base, status: .ok, region: page.region, node: page.node,
                records: try zip(page.messages, page.cursors).map { record, cursor in
                    var shown = try Components.Schemas.MessageRecord(record, region: page.region, node: page.node)
                    shown.cursor = cursor?.description
                    return shown
                }, detail: nil)
        } catch let error as DecodingError {
            return NodeAnswer(url: base, status: .error, records: [], detail: "the node's answer does not decode: \(error)")
        } catch {
            return NodeAnswer(url: base, status: .unreachable, records: [], detail: "\(error)")
        }
    }
}

extension Components.Schemas.MessageRecord {
    /// A node's record as the admin API shows it, with where it lives.
    init(_ record: DeliveryRecord, region: String, node: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let metadata = try decoder.decode(OpenAPIObjectContainer.self, from: try encoder.encode(record.metadata))
        self.init(
            region: region, node: node, messageId: record.messageID, recipient: record.recipient, webhookId: record.webhookID,
            mode: .init(rawValue: record.mode.rawValue) ?? .queued, status: .init(rawValue: record.status.rawValue) ?? .queued,
            attempts: record.attempts, receivedAt: record.metadata.receivedAt, nextAttemptAt: record.nextAttemptAt, completedAt: record.completedAt,
            finalReason: record.finalReason, metadata: .init(additionalProperties: metadata))
    }
}

import AsyncHTTPClient
import Foundation
import MeridianAPI
import MeridianCore
import NIOCore
import NIOHTTP1

/// The regional nodes' control APIs, as the coordinator reaches them with the node token.
///
/// The list comes from `control_url` in Regions/*.yaml, or from a file of URLs (one per line, as Terraform
/// writes /etc/meridian/node-endpoints). Each node says which region and node it is.
public final class NodeFleet: Sendable {
    public let urls: [String]
    private let token: String?
    private let timeout: TimeAmount
    /// The process-wide shared client: it needs no shutdown, and a fleet may come and go with a test.
    private var http: HTTPClient { HTTPClient.shared }

    public init(urls: [String], token: String?, timeout: TimeAmount = .seconds(5)) {
        self.urls = urls
        self.token = token
        self.timeout = timeout
    }

    /// Reads a node-endpoints file: one http(s) URL per line; blank lines and `#` comments are skipped.
    public static func readEndpoints(_ path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CoordinatorStartError("cannot read the node endpoints file \(path)")
        }
        var urls: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let entry = line.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty, !entry.hasPrefix("#") else { continue }
            guard let url = URL(string: entry), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw CoordinatorStartError("\(path) line \(number + 1): \"\(entry)\" is not an http(s) URL")
            }
            urls.append(entry.hasSuffix("/") ? String(entry.dropLast()) : entry)
        }
        return urls
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

    struct NodePage: Decodable {
        var region: String
        var node: String
        var messages: [Components.Schemas.MessageRecord]
    }

    struct NodeProblem: Decodable {
        var detail: String?
    }

    /// Asks every node at once; an unreachable node is an answer too, never an error.
    public func queryMessages(_ parameters: [(String, String)]) async -> [NodeAnswer] {
        await withTaskGroup(of: (Int, NodeAnswer).self) { group in
            for (index, url) in urls.enumerated() {
                group.addTask { (index, await self.query(url, parameters)) }
            }
            var answers: [(Int, NodeAnswer)] = []
            for await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    private func query(_ base: String, _ parameters: [(String, String)]) async -> NodeAnswer {
        var components = URLComponents(string: base + "/v1/messages")
        components?.queryItems = parameters.map { URLQueryItem(name: $0.0, value: $0.1) }
        // `+` in a time zone offset or an address must not turn into a space.
        let encoded = components?.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        components?.percentEncodedQuery = encoded
        guard let url = components?.string else {
            return NodeAnswer(url: base, status: .error, records: [], detail: "cannot build the query URL")
        }
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = Data(buffer: try await response.body.collect(upTo: 64 << 20))
            guard response.status == .ok else {
                let detail = (try? decoder.decode(NodeProblem.self, from: body))?.detail ?? response.status.reasonPhrase
                return NodeAnswer(url: base, status: .error, records: [], detail: "the node answered \(response.status.code): \(detail)")
            }
            let page = try decoder.decode(NodePage.self, from: body)
            return NodeAnswer(url: base, status: .ok, region: page.region, node: page.node, records: page.messages, detail: nil)
        } catch let error as DecodingError {
            return NodeAnswer(url: base, status: .error, records: [], detail: "the node's answer does not decode: \(error)")
        } catch {
            return NodeAnswer(url: base, status: .unreachable, records: [], detail: "\(error)")
        }
    }
}

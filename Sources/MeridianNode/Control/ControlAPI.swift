import Foundation
import Hummingbird
import MeridianCore
import NIOCore

/// The node control API (Hummingbird), for the coordinator and for operators on the private network:
///
/// * `GET /healthz` and `GET /metrics` (Prometheus text), without a token;
/// * `PUT /v1/bundle`: a coordinator push of a signed bundle, answered with the node's ACK or NACK;
/// * `POST /v1/directives`: a signed GDPR/CCPA directive, answered with the node's receipt;
/// * `GET /v1/status`, `GET /v1/messages` (a customer's deliveries, by time, message id, sender or recipient)
///   and `GET /v1/messages/{id}/{recipient}` (one delivery with its attempts), with the node token.
///
/// Errors are RFC 9457 problem+json. Only query results leave the region; the store stays here.
struct ControlAPI: Sendable {
    let node: RegionalNode
    /// Hex SHA-256 of the node token; nil refuses every authenticated route.
    let tokenHash: String?

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ProblemWriter())
        router.get("/healthz") { _, _ in
            try json(["status": "ok", "region": node.region.id.rawValue, "node": node.nodeID])
        }
        router.get("/metrics") { _, _ in
            let oldest = try? await node.store.oldestQueued()
            node.metrics.queueAge(seconds: oldest.map { max(0, Date().timeIntervalSince($0).rounded()) } ?? 0)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: node.metrics.render())))
        }
        router.get("/v1/status") { request, _ in
            try authorize(request)
            let status = try await node.status()
            return try json(status)
        }
        // A coordinator push: the signed bundle as the body; the answer is the node's ACK (200) or NACK (422).
        router.put("/v1/bundle") { request, _ in
            try authorize(request)
            let body = try await request.body.collect(upTo: Self.maximumBundleSize)
            let report = node.offer(Data(buffer: body), from: "a coordinator push")
            return try json(report, status: report.status == .ack ? .ok : .unprocessableContent)
        }
        // A signed GDPR/CCPA directive; the answer is the receipt (200) or why it was refused (422).
        router.post("/v1/directives") { request, _ in
            try authorize(request)
            let body = try await request.body.collect(upTo: 1 << 20)
            let signed: SignedDirective
            do {
                signed = try JSONDecoder().decode(SignedDirective.self, from: Data(buffer: body))
            } catch {
                throw ControlProblem(.badRequest, "the body is not a signed directive {key_id, payload, signature}: \(error)")
            }
            do {
                return try json(try await node.carryOut(signed))
            } catch let error as NodeBundleError {
                throw ControlProblem(.unprocessableContent, "directive refused: \(error.description)")
            }
        }
        router.get("/v1/messages") { request, _ in
            try authorize(request)
            let query = try Self.query(request.uri.queryParameters)
            let records = try await node.store.query(query)
            let region = node.region.id.rawValue
            return try json(
                MessagesPage(region: region, node: node.nodeID, messages: records.map { RecordOut(region: region, node: node.nodeID, record: $0) }))
        }
        router.get("/v1/messages/:id/:recipient") { request, context in
            try authorize(request)
            guard let id = context.parameters.get("id"), let recipient = context.parameters.get("recipient", as: Int.self) else {
                throw ControlProblem(.badRequest, "the path is /v1/messages/{message id}/{recipient index}")
            }
            guard let (record, attempts) = try await node.store.delivery(DeliveryKey(messageID: id, recipient: recipient)) else {
                throw ControlProblem(.notFound, "no delivery \(id)/\(recipient) on this node")
            }
            return try json(DeliveryDetail(delivery: record, attempts: attempts))
        }
        return router
    }

    struct MessagesPage: Encodable {
        var region: String
        var node: String
        var messages: [RecordOut]
    }

    /// A delivery record with where it lives and when it arrived beside it, as the coordinator merges them.
    struct RecordOut: Encodable {
        var region: String
        var node: String
        var record: DeliveryRecord

        enum Keys: String, CodingKey { case region, node, receivedAt = "received_at" }

        func encode(to encoder: any Encoder) throws {
            try record.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(region, forKey: .region)
            try container.encode(node, forKey: .node)
            try container.encode(record.metadata.receivedAt, forKey: .receivedAt)
        }
    }

    struct DeliveryDetail: Encodable {
        var delivery: DeliveryRecord
        var attempts: [DeliveryAttempt]
    }

    /// Bundles carry every customer of a region; 256 MB leaves room for a few million.
    static let maximumBundleSize = 256 << 20

    private func authorize(_ request: Request) throws {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw ControlProblem(.unauthorized, "send the node token as Authorization: Bearer <token>")
        }
        guard let tokenHash, BearerToken.matches(authorization: header, hash: tokenHash) else {
            throw ControlProblem(.unauthorized, "the node token is not valid")
        }
    }

    static func query(_ parameters: Parameters) throws -> MetadataQuery {
        let known: Set<String> = ["customer_id", "since", "until", "message_id", "sender", "recipient", "limit"]
        if let unknown = parameters.map({ String($0.key) }).first(where: { !known.contains($0) }) {
            throw ControlProblem(.badRequest, "unknown query parameter \"\(unknown)\"; known: \(known.sorted().joined(separator: ", "))")
        }
        guard let customer = parameters.get("customer_id"), !customer.isEmpty else {
            throw ControlProblem(.badRequest, "customer_id is required")
        }
        var query = MetadataQuery(customerID: customer)
        func date(_ name: String) throws -> Date? {
            guard let text = parameters.get(name) else { return nil }
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw ControlProblem(.badRequest, "\(name) \"\(text)\" is not an RFC 3339 time such as 2026-11-23T10:00:00Z")
            }
            return date
        }
        query.since = try date("since")
        query.until = try date("until")
        query.messageID = parameters.get("message_id")
        query.sender = parameters.get("sender")
        query.recipient = parameters.get("recipient")
        if let text = parameters.get("limit") {
            guard let limit = Int(text), (1...1000).contains(limit) else {
                throw ControlProblem(.badRequest, "limit \"\(text)\" must be a whole number from 1 to 1000")
            }
            query.limit = limit
        }
        return query
    }
}

/// An error answered as RFC 9457 problem+json.
struct ControlProblem: Error {
    var status: HTTPResponse.Status
    var detail: String

    init(_ status: HTTPResponse.Status, _ detail: String) {
        self.status = status
        self.detail = detail
    }

    var response: Response {
        let body = (try? JSONSerialization.data(
            withJSONObject: ["type": "about:blank", "title": status.reasonPhrase, "status": status.code, "detail": detail],
            options: [.sortedKeys])) ?? Data()
        return Response(
            status: status, headers: [.contentType: "application/problem+json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Turns thrown errors, and Hummingbird's own (unknown route, wrong method), into problem+json; never a bare 500.
struct ProblemWriter<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as ControlProblem {
            return problem.response
        } catch let error as HTTPError {
            return ControlProblem(error.status, error.body ?? error.status.reasonPhrase).response
        } catch {
            context.logger.error("control API: \(error)")
            return ControlProblem(.serviceUnavailable, "the node could not answer: \(error)").response
        }
    }
}

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

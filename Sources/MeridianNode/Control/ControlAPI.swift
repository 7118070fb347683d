import Foundation
import Hummingbird
import MeridianCore
import MeridianServer
import NIOCore

/// The node's two HTTP listeners (Hummingbird):
///
/// * the **control API** (``router()``), over mutual TLS that accepts only the coordinator's certificate: the node
///   protocol's calls (``NodeProtocol``) `PUT /v1/bundle` (a push, answered with the node's signed ACK or NACK),
///   `POST /v1/directives` (a signed GDPR/CCPA directive, answered with the receipt the node signs) and `GET /v1/messages` (a
///   customer's deliveries), `GET /v1/messages/{id}/{recipient}` (one delivery with its attempts),
///   `POST /v1/messages/{id}/{recipient}/redeliver` (a waiting delivery brought forward to now), the
///   quarantine's calls (`GET /v1/quarantine`, `GET /v1/quarantine/{id}`, `POST /v1/quarantine`) and `GET /v1/status`;
/// * the **probe port** (``probeRouter()``), plain HTTP for load balancers and scrapers: `GET /healthz`,
///   `GET /metrics` (Prometheus text) and `GET /v1/status`, none of which carries personal data.
///
/// Errors are RFC 9457 problem+json (``ControlProblemMiddleware``). Only query results leave the region; the
/// store stays here.
struct ControlAPI: Sendable {
    let region: RegionID
    let node: String
    let store: MetadataStore
    let metrics: NodeMetrics
    let bundles: BundleIntake
    let directives: DirectiveExecutor
    let quarantine: Quarantine
    let queue: DeliveryQueue
    let protocolLog: SMTPProtocolLog
    /// The node's key and certificate: receipts and reports are signed with them.
    let signer: LinkCredentials
    let status: NodeStatusReporter
    let now: @Sendable () -> Date

    /// The probe port's routes.
    func probeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ControlProblemMiddleware())
        router.get("/healthz") { _, _ in
            try json(["status": "ok", "region": region.rawValue, "node": node])
        }
        router.get("/metrics") { _, _ in
            let oldest = try? await store.oldestQueued()
            metrics.queueAge(seconds: oldest.map { max(0, now().timeIntervalSince($0).rounded()) } ?? 0)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        router.get("/v1/status") { _, _ in try json(try await status.status()) }
        return router
    }

    /// The control API's routes; the TLS listener in front of them lets only the coordinator in.
    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ControlProblemMiddleware())
        router.get("/v1/status") { _, _ in try json(try await status.status()) }
        // A coordinator push: a config update (signed deltas, after a signed snapshot when needed) as the body; the
        // answer is the node's ACK (200) or NACK (422).
        router.put(RouterPath(NodeProtocol.bundlePath)) { request, _ in
            let body = try await request.body.collect(upTo: NodeProtocol.maximumBundleSize)
            let report = try signer.signed(bundles.offer(Data(buffer: body), from: "a coordinator push"))
            return try json(report, status: report.status == .ack ? .ok : .unprocessableContent)
        }
        // A signed GDPR/CCPA directive; the answer is the receipt, signed with the node's key (200), or why the
        // directive was refused (422).
        router.post(RouterPath(NodeProtocol.directivesPath)) { request, _ in
            let body = try await request.body.collect(upTo: NodeProtocol.maximumDirectiveSize)
            let signed: SignedDirective
            do {
                signed = try JSONDecoder().decode(SignedDirective.self, from: Data(buffer: body))
            } catch {
                throw Problem(.badRequest, "the body is not a signed directive {key_id, payload, signature}")
            }
            return try json(try signer.signed(try await directives.carryOut(signed)))
        }
        router.get(RouterPath(NodeProtocol.messagesPath)) { request, _ in
            let query: MessageQuery
            do {
                query = try MessageQuery(parameters: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
            } catch let error as CoreError {
                throw Problem(.badRequest, error.reason)
            }
            return try json(MessagePage(region: region.rawValue, node: node, messages: try await store.query(query)))
        }
        router.get(RouterPath(NodeProtocol.quarantinePath)) { request, _ in
            let customer = try Self.customer(request)
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
            guard (1...1000).contains(limit) else { throw Problem(.badRequest, "limit must be a whole number from 1 to 1000") }
            return try json(MessagePage(region: region.rawValue, node: node, messages: try await store.quarantined(customer: customer, limit: limit)))
        }
        router.get(RouterPath(NodeProtocol.quarantinePath + "/:id")) { request, context in
            let customer = try Self.customer(request)
            guard let id = context.parameters.get("id"), let preview = try await quarantine.preview(id, customer: customer) else {
                throw Problem(.notFound, "this node holds no such message for \(customer)")
            }
            return try json(preview)
        }
        router.post(RouterPath(NodeProtocol.quarantinePath)) { request, _ in
            let body = try await request.body.collect(upTo: 64 * 1024)
            let action: QuarantineAction
            do {
                action = try JSONDecoder().decode(QuarantineAction.self, from: Data(buffer: body))
            } catch {
                throw Problem(.badRequest, "the body is not a quarantine action {action, customer_id, message_ids, actor}")
            }
            guard (1...QuarantineAction.messageLimit).contains(action.messageIDs.count) else {
                throw Problem(.badRequest, "message_ids must hold 1 to \(QuarantineAction.messageLimit) ids")
            }
            return try json(try await quarantine.act(action))
        }
        router.get(RouterPath(NodeProtocol.protocolLogPath)) { request, _ in
            let parameters = request.uri.queryParameters
            func date(_ name: String) throws -> Date? {
                guard let text = parameters.get(name) else { return nil }
                guard let date = ISO8601DateFormatter().date(from: text) else { throw Problem(.badRequest, "\(name) \"\(text)\" is not an RFC 3339 time") }
                return date
            }
            let limit = parameters.get("limit", as: Int.self) ?? 100
            guard (1...1000).contains(limit) else { throw Problem(.badRequest, "limit must be a whole number from 1 to 1000") }
            let sessions = protocolLog.read(
                since: try date("since"), until: try date("until"), clientIP: parameters.get("client_ip"), address: parameters.get("address"),
                limit: limit)
            return try json(ProtocolLogPage(region: region.rawValue, node: node, sessions: sessions))
        }
        router.get("/v1/messages/:id/:recipient") { request, context in
            guard let id = context.parameters.get("id"), let recipient = context.parameters.get("recipient", as: Int.self) else {
                throw Problem(.badRequest, "the path is /v1/messages/{message id}/{recipient index}")
            }
            guard let (record, attempts) = try await store.delivery(DeliveryKey(messageID: id, recipient: recipient)) else {
                throw Problem(.notFound, "no delivery \(id)/\(recipient) on this node")
            }
            return try json(DeliveryDetail(delivery: record, attempts: attempts))
        }
        // Brings one of a customer's deliveries forward to now, if it is still waiting in the spool.
        router.post("/v1/messages/:id/:recipient/redeliver") { request, context in
            guard let id = context.parameters.get("id"), let recipient = context.parameters.get("recipient", as: Int.self) else {
                throw Problem(.badRequest, "the path is /v1/messages/{message id}/{recipient index}/redeliver")
            }
            let customer = try Self.customer(request)
            let key = DeliveryKey(messageID: id, recipient: recipient)
            guard let (record, _) = try await store.delivery(key), record.customerID == customer else {
                throw Problem(.notFound, "no delivery \(id)/\(recipient) of \(customer) on this node")
            }
            return try json(RedeliveryAnswer(outcome: await queue.redeliver(key), status: record.status))
        }
        return router
    }

    static func customer(_ request: Request) throws -> String {
        guard let customer = request.uri.queryParameters.get("customer_id"), !customer.isEmpty else {
            throw Problem(.badRequest, "customer_id is required")
        }
        return customer
    }

}

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}

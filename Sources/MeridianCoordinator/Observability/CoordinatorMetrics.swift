import Foundation
import Hummingbird
import MeridianCore
import MeridianServer
import SQLKit
import Synchronization

/// The coordinator's `/metrics`, in the Prometheus text format, for the alerts in docs/observability.md.
///
/// Counters of API answers are kept in memory; everything else is read from the database, so that every replica
/// reports the same state: the config version and each node's state, open and overdue data-subject requests, the
/// canary's time to expiry, and the outbox. A scrape needs the metrics token (`DATA-DIR/metrics-token` or
/// `MERIDIAN_METRICS_TOKEN`), not an API token, and the database is asked at most every ``cacheSeconds``, so
/// `/metrics` can neither be read by anyone nor be used to load the database.
struct CoordinatorMetrics: Sendable {
    static let cacheSeconds: TimeInterval = 10
    /// The bearer token a scrape must carry.
    let token: String
    let cache = Cache()
    let store: any SQLStore
    let config: ConfigRepository
    let nodes: NodeRepository
    let canaries: CanaryRepository
    let requests: DataSubjectRequestRepository
    let responses: ResponseCounts
    let leadership: Leadership
    let now: @Sendable () -> Date

    func register(on router: Router<CoordinatorRequestContext>) {
        router.get("/metrics") { request, _ in
            let given = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
            guard ConstantTime.equal(Array(given.utf8), Array(token.utf8)) else {
                var response = Problem.unauthorized("send Authorization: Bearer <the metrics token in DATA-DIR/metrics-token>").response
                response.headers[.wwwAuthenticate] = "Bearer realm=\"metrics\""
                return response
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await cached())))
        }
    }

    /// The newest rendering, made again when older than ``cacheSeconds`` by the coordinator's clock.
    func cached() async -> String {
        let date = now()
        if let kept = cache.value.withLock({ $0 }), abs(date.timeIntervalSince(kept.at)) < Self.cacheSeconds { return kept.text }
        let text = await render()
        cache.value.withLock { $0 = (date, text) }
        return text
    }

    final class Cache: Sendable {
        let value = Mutex<(at: Date, text: String)?>(nil)
    }

    func render() async -> String {
        var text = Exposition()
        text.family("meridian_api_responses_total", "counter", "Admin API and page answers, by status class.")
        for (code, count) in responses.snapshot().sorted(by: { $0.key < $1.key }) {
            text.sample("meridian_api_responses_total", ["code": code], Double(count))
        }
        text.family("meridian_coordinator_leader", "gauge", "1 when this replica leads: publishes and pushes config and runs the singleton jobs.")
        text.sample("meridian_coordinator_leader", ["replica": leadership.replica], leadership.isLeading ? 1 : 0)
        text.family("meridian_coordinator_leader_term", "gauge", "The leader's term as this replica last saw it: it grows each time another replica takes the lead.")
        text.sample("meridian_coordinator_leader_term", ["replica": leadership.replica], Double(leadership.leader?.term ?? 0))
        do {
            let date = now()
            let latest = try await config.latest()
            text.family("meridian_config_version", "gauge", "The newest config version published.")
            text.sample("meridian_config_version", [:], Double(latest?.version ?? 0))
            var states = ["in_sync": 0, "behind": 0, "refused": 0, "unreachable": 0]
            for node in try await nodes.nodes() where node.enrollment != .revoked {
                states[AdminAPI.state(of: node, newest: latest?.version).rawValue, default: 0] += 1
            }
            text.family("meridian_nodes", "gauge", "Known nodes by state: in_sync, behind, refused (NACKed the newest bundle), unreachable.")
            for (state, count) in states.sorted(by: { $0.key < $1.key }) { text.sample("meridian_nodes", ["state": state], Double(count)) }

            let (open, overdue) = try await requests.openCounts(at: date)
            text.family("meridian_gdpr_requests_open", "gauge", "Data-subject requests not yet closed.")
            text.sample("meridian_gdpr_requests_open", [:], Double(open))
            text.family("meridian_gdpr_requests_overdue", "gauge", "Open data-subject requests past their legal deadline.")
            text.sample("meridian_gdpr_requests_overdue", [:], Double(overdue))

            if let canary = try await canaries.latest() {
                text.family("meridian_canary_expiry_seconds", "gauge", "Seconds until the published canary expires; negative once it has.")
                text.sample("meridian_canary_expiry_seconds", [:], canary.statement.expiresAt.timeIntervalSince(date).rounded())
            }
            let outbox = try await store.withSession { db in
                try await db.raw("SELECT status, count(*) AS n FROM notifications GROUP BY status").all().map {
                    (try $0.decode(column: "status", as: String.self), try $0.decode(column: "n", as: Int64.self))
                }
            }
            text.family("meridian_outbox_notifications", "gauge", "Notices in the outbox by status: pending, sent, failed.")
            for status in ["failed", "pending", "sent"] {
                text.sample("meridian_outbox_notifications", ["status": status], Double(outbox.first { $0.0 == status }?.1 ?? 0))
            }
            text.family("meridian_database_up", "gauge", "1 when the coordinator's database answered this scrape.")
            text.sample("meridian_database_up", [:], 1)
        } catch {
            text.family("meridian_database_up", "gauge", "1 when the coordinator's database answered this scrape.")
            text.sample("meridian_database_up", [:], 0)
        }
        return text.output
    }

    /// Prometheus text exposition, 0.0.4.
    struct Exposition {
        var output = ""

        mutating func family(_ name: String, _ type: String, _ help: String) {
            output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }

        mutating func sample(_ name: String, _ labels: [String: String], _ value: Double) {
            let rendered = labels.isEmpty ? "" : "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",") + "}"
            let number = value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            output += "\(name)\(rendered) \(number)\n"
        }
    }
}

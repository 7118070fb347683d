import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The node's side of config distribution that it starts itself: it pulls its region's bundle from the
/// coordinator at start and then every `--pull-interval`, and reports its ACK or NACK. Pushes arrive on the
/// control API (`PUT /v1/bundle`); the pull is how a node catches up after it or the coordinator was away.
///
/// While the coordinator cannot be reached the node keeps serving with the bundle in force (its
/// last-known-good after a restart) and tries again: every second until the first answer, then every interval.
/// Each answer's `Date` header also tells the node how far its clock is from the coordinator's (`CoordinatorClock`).
struct CoordinatorLink: Service {
    let node: RegionalNode
    let coordinator: String
    let token: String
    let interval: Duration
    private var http: HTTPClient { HTTPClient.shared }

    init(node: RegionalNode, coordinator: String, token: String, interval: Duration) {
        self.node = node
        self.coordinator = coordinator.hasSuffix("/") ? String(coordinator.dropLast()) : coordinator
        self.token = token
        self.interval = interval
    }

    func run() async throws {
        var reached = false
        var failures = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await pullOnce()
                if !reached || failures > 0 {
                    node.logger.info("node: in touch with the coordinator at \(coordinator); version \(node.config.version) in force")
                }
                reached = true
                failures = 0
            } catch is CancellationError {
                return
            } catch {
                failures += 1
                // One line when the coordinator goes away, then one a minute, not one per try.
                if failures == 1 || failures % 60 == 0 {
                    node.logger.warning(
                        "node: no bundle from the coordinator at \(coordinator); serving with version \(node.config.version)",
                        metadata: ["error": "\(error)", "tries": "\(failures)"])
                }
            }
            let wait: Duration = reached && failures == 0 ? interval : .seconds(1)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
        }
    }

    /// Asks for the region's bundle newer than the version in force; applies it and reports the result.
    func pullOnce() async throws {
        let configuration = node.configuration
        var components = URLComponents(string: coordinator + "/node/v1/bundle")
        components?.queryItems = [
            .init(name: "region", value: node.region.id.rawValue), .init(name: "node", value: node.nodeID),
            .init(name: "version", value: "\(node.config.version)"), .init(name: "control_url", value: configuration.advertisedControlURL),
        ]
        guard let url = components?.string else { throw LinkError("cannot build the pull URL from \(coordinator)") }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let sent = Date()
        let response = try await http.execute(request, timeout: .seconds(10))
        if let skew = node.clock.record(dateHeader: response.headers.first(name: "Date"), sent: sent, received: Date(), logger: node.logger) {
            node.metrics.clockSkew(seconds: skew)
        }
        let body = try await response.body.collect(upTo: ControlAPI.maximumBundleSize)
        switch response.status {
        case .noContent:
            return
        case .ok:
            let report = node.offer(Data(buffer: body), from: "a pull from the coordinator")
            try await send(report)
        default:
            throw LinkError("the coordinator answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
    }

    func send(_ report: BundleReport) async throws {
        struct Report: Encodable {
            var region: String
            var node: String
            var controlURL: String
            var report: BundleReport
            enum CodingKeys: String, CodingKey { case region, node, report, controlURL = "control_url" }
        }
        var request = HTTPClientRequest(url: coordinator + "/node/v1/reports")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        let payload = Report(
            region: node.region.id.rawValue, node: node.nodeID, controlURL: node.configuration.advertisedControlURL, report: report)
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(payload)))
        let response = try await http.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 64 << 10)
        guard response.status == .noContent || response.status == .ok else {
            throw LinkError("the coordinator refused the report: \(response.status.code)")
        }
    }

    struct LinkError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

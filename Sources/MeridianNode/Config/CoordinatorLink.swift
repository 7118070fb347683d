import AsyncHTTPClient
import Foundation
import Logging
import MeridianCore
import MeridianServer
import NIOCore
import NIOHTTP1

/// The node's side of config distribution that it starts itself: it pulls its region's bundle from the
/// coordinator at start and then every `--pull-interval`, and reports its ACK or NACK. Pushes arrive on the
/// control API (`PUT /v1/bundle`); the pull is how a node catches up after it or the coordinator was away.
///
/// While the coordinator cannot be reached the node keeps serving with the bundle in force (its
/// last-known-good after a restart) and tries again: every second until the first answer, then every interval.
/// Given several replicas (`CoordinatorEndpoints`), a pull that finds one silent goes on to the next, and the
/// report goes to the replica that answered the pull.
/// Each answer's `Date` header also tells the node how far its clock is from the coordinator's (`CoordinatorClock`).
///
/// The calls go over mutual TLS with the node's certificate; the coordinator takes the node's region and id from
/// it.
actor CoordinatorLink {
    let endpoints: CoordinatorEndpoints
    let credentials: LinkCredentials
    let config: NodeConfigState
    let intake: BundleIntake
    let clock: CoordinatorClock
    let metrics: NodeMetrics
    let logger: Logger
    let now: @Sendable () -> Date
    private var http: HTTPClient { HTTPClient.shared }
    private var reached = false
    private var failures = 0
    /// The replica that answered the last pull.
    private var answered: String?

    init(
        endpoints: CoordinatorEndpoints, credentials: LinkCredentials, config: NodeConfigState, intake: BundleIntake, clock: CoordinatorClock,
        metrics: NodeMetrics, logger: Logger, now: @escaping @Sendable () -> Date
    ) {
        self.endpoints = endpoints
        self.credentials = credentials
        self.config = config
        self.intake = intake
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
        self.now = now
    }

    /// One pull; returns the wait before the next: a second while the coordinator is away, else nil (the interval).
    func pass() async throws -> Duration? {
        do {
            let (_, url) = try await endpoints.first { url in try await self.pull(from: url) }
            if !reached || failures > 0 || url != answered {
                logger.info("node: in touch with the coordinator at \(url); version \(config.version) in force")
            }
            answered = url
            reached = true
            failures = 0
            return nil
        } catch let error as CancellationError {
            throw error
        } catch {
            failures += 1
            // One line when the coordinator goes away, then one a minute, not one per try.
            if failures == 1 || failures % 60 == 0 {
                logger.warning(
                    "node: no bundle from the coordinator at \(endpoints.urls.joined(separator: ", ")); serving with version \(config.version)",
                    metadata: ["error": "\(error)", "tries": "\(failures)"])
            }
            return .seconds(1)
        }
    }

    /// Asks `coordinator` for the region's bundle newer than the version in force; applies it and reports the result
    /// there.
    func pull(from coordinator: String) async throws {
        let pull = BundlePull(version: config.version)
        var components = URLComponents(string: coordinator + NodeProtocol.pullPath)
        components?.queryItems = pull.parameters.map { URLQueryItem(name: $0.name, value: $0.value) }
        guard let url = components?.string else { throw NodeError(.coordinatorUnavailable, "cannot build the pull URL from \(coordinator)") }
        var request = HTTPClientRequest(url: url)
        request.tlsConfiguration = credentials.client
        let sent = now()
        let response = try await http.execute(request, timeout: .seconds(10))
        if let skew = clock.record(dateHeader: response.headers.first(name: "Date"), sent: sent, received: now(), logger: logger) {
            metrics.clockSkew(seconds: skew)
        }
        let body = try await response.body.collect(upTo: NodeProtocol.maximumBundleSize)
        switch response.status {
        case .noContent:
            return
        case .ok:
            let report = intake.offer(Data(buffer: body), from: "a pull from the coordinator")
            try await send(try credentials.signed(report), to: coordinator)
        default:
            throw NodeError(.coordinatorUnavailable, "the coordinator answered \(response.status.code): \(ProblemDetails.detail(of: Data(buffer: body)))")
        }
    }

    func send(_ report: BundleReport, to coordinator: String) async throws {
        var request = HTTPClientRequest(url: coordinator + NodeProtocol.reportsPath)
        request.method = .POST
        request.tlsConfiguration = credentials.client
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(report)))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: NodeProtocol.maximumReportSize)
        guard response.status == .noContent || response.status == .ok else {
            throw NodeError(.coordinatorUnavailable, "the coordinator refused the report: \(response.status.code) \(ProblemDetails.detail(of: Data(buffer: body)))")
        }
    }
}

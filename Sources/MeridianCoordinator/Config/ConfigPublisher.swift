import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import MeridianCore
import NIOCore

/// Turns changes into signed config versions and pushes them to the nodes, xDS-style.
///
/// A change (any mutation of a customer) calls ``changed()``. Changes that arrive within `debounce`, or while
/// a version is being published, are coalesced into the next version. Publishing compiles one bundle per
/// region, and gives it a new version only when its content differs from the newest version's (a restart
/// does not bump the version); it then pushes each region's bundle to every node known in that region and
/// records each ACK, NACK or failure. Nodes also pull (``NodeProtocol``), which is how a node that missed a
/// push, or was started before the coordinator, catches up.
public actor ConfigPublisher {
    public struct Outcome: Sendable {
        public var version: Int
        /// False when the content equalled the newest version, which stays in force.
        public var isNew: Bool
    }

    let customers: any CustomerRepository
    let subprocessors: SubProcessorRepository?
    let objections: ObjectionRepository?
    let config: ConfigRepository
    let compiler: ConfigCompiler
    let key: Curve25519.Signing.PrivateKey
    let pusher: NodePusher
    let debounce: Duration
    let logger: Logger
    let now: @Sendable () -> Date
    private var pending = false
    private var running = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    /// Nodes with a push in flight, and those among them that need the newest bundle once it ends.
    private var pushing: Set<String> = []
    private var again: Set<String> = []
    /// The newest signed bundle of each region, as published by this coordinator, so that pushes to many
    /// nodes do not each read and open it from the database.
    private var newest: [RegionID: PublishedBundle] = [:]
    /// Wakes the publisher when the next sub-processor takes effect or retires, so that bundles follow the
    /// registry's dates without anyone changing anything.
    private var wake: Task<Void, Never>?
    /// The policy each region's bundle carries in the newest version: what the nodes enforce, and what
    /// `/privacy` publishes.
    public private(set) var enforcedPolicies: [RegionID: NodeBundle.Policy] = [:]

    public init(
        customers: any CustomerRepository, subprocessors: SubProcessorRepository? = nil, objections: ObjectionRepository? = nil,
        config: ConfigRepository, compiler: ConfigCompiler, key: Curve25519.Signing.PrivateKey, pusher: NodePusher,
        debounce: Duration = .milliseconds(2), logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.customers = customers
        self.subprocessors = subprocessors
        self.objections = objections
        self.config = config
        self.compiler = compiler
        self.key = key
        self.pusher = pusher
        self.debounce = debounce
        self.logger = logger
        self.now = now
    }

    /// Something the bundles depend on changed; a version follows shortly. Returns at once.
    public nonisolated func changed() {
        Task { await self.schedule() }
    }

    /// Waits until every change made before the call is published; pushes may still be in flight (for tests).
    public func settled() async {
        guard pending || running else { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func schedule() {
        pending = true
        guard !running else { return }
        running = true
        Task { await self.drain() }
    }

    private func drain() async {
        while pending {
            try? await Task.sleep(for: debounce)
            pending = false
            do {
                let outcome = try await publish()
                await push(outcome.version)
            } catch {
                logger.error("config: publishing failed; the nodes keep the version they have", metadata: ["error": "\(error)"])
            }
        }
        running = false
        let done = waiters
        waiters = []
        for waiter in done { waiter.resume() }
    }

    /// Compiles the current state; stores it as a new version unless the newest version has the same content.
    @discardableResult
    public func publish() async throws -> Outcome {
        let active = try await customers.allActive()
        let date = now()
        let registry = ConfigCompiler.Registry(
            subprocessors: try await subprocessors?.all() ?? [], objections: try await objections?.standing() ?? [:], at: date)
        scheduleWake(at: SubProcessor.nextChange(registry.subprocessors, after: date), from: date)
        let unversioned = try compiler.compile(active, registry: registry, version: 0)
        let policies = Dictionary(unversioned.map { ($0.region, $0.policy) }, uniquingKeysWith: { a, _ in a }).compactMapValues { $0 }
        let encoded = try unversioned.parallelMap { $0.canonicalJSON() }
        var hasher = SHA256()
        for bytes in encoded { hasher.update(data: bytes) }
        let digest = hasher.finalize().hexString
        if let latest = try await config.latest(), latest.digest == digest {
            enforcedPolicies = policies
            return Outcome(version: latest.version, isNew: false)
        }
        newest = [:]
        let key = self.key
        let (version, bundles) = try await config.publish(digest: digest, customers: active.count, at: now(), audit: .system("config")) { version in
            let signed = try Array(zip(unversioned, encoded)).parallelMap { bundle, bytes in
                guard let canonical = NodeBundle.canonicalJSON(bytes, settingVersion: version) else {
                    throw ConfigCompiler.CompileError(description: "the \(bundle.region) bundle has no version to set")
                }
                return Data(try SignedBundle.signedJSON(canonical: canonical, with: key))
            }
            return zip(unversioned, signed).map { PublishedBundle(region: $0.region, version: version, signed: $1) }
        }
        for bundle in bundles { newest[bundle.region] = bundle }
        enforcedPolicies = policies
        logger.info("config: published version \(version)", metadata: ["customers": "\(active.count)", "digest": "\(digest.prefix(12))"])
        return Outcome(version: version, isNew: true)
    }

    private func scheduleWake(at date: Date?, from current: Date) {
        wake?.cancel()
        guard let date else { return }
        // At most an hour at a time: the wall clock may jump, and the check is cheap.
        let seconds = min(3600, max(0, date.timeIntervalSince(current)) + 0.5)
        wake = Task { [weak self] in
            guard (try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))) != nil else { return }
            self?.changed()
        }
    }

    /// Pushes the newest bundle of its region to every node not yet at `version`, all at once. A node still
    /// busy with an earlier push (a slow or stopped node) gets the newest bundle when that push ends, so one
    /// slow node delays nobody else and never receives a backlog of versions.
    public func push(_ version: Int) async {
        let nodes: [NodeRecord]
        do {
            nodes = try await config.nodes()
        } catch {
            logger.error("config: cannot list the nodes to push to", metadata: ["error": "\(error)"])
            return
        }
        for node in nodes where (node.appliedVersion ?? 0) < version || node.lastResult != .ack {
            if pushing.contains(node.id) {
                again.insert(node.id)
                continue
            }
            pushing.insert(node.id)
            Task { await self.pushLoop(node) }
        }
    }

    private func pushLoop(_ node: NodeRecord) async {
        repeat {
            again.remove(node.id)
            guard let region = RegionID(node.region) else { break }
            var cached = newest[region]
            if cached == nil { cached = try? await config.bundle(for: region) }
            guard let bundle = cached else { break }
            await push(bundle, to: node)
        } while again.contains(node.id)
        pushing.remove(node.id)
    }

    private func push(_ bundle: PublishedBundle, to node: NodeRecord) async {
        let answer = await pusher.push(bundle.signed, to: node.controlURL)
        switch answer {
        case .ack(let version):
            try? await config.record(node: node.id, result: .ack, version: version, error: nil, at: now())
        case .nack(let version, let error):
            logger.error("config: node \(node.id) refused version \(bundle.version)", metadata: ["error": "\(error)"])
            try? await config.record(node: node.id, result: .nack, version: version, error: error, at: now())
        case .unreachable(let error):
            logger.warning("config: cannot push version \(bundle.version) to node \(node.id); it will pull", metadata: ["error": "\(error)"])
            try? await config.record(node: node.id, result: .unreachable, version: nil, error: error, at: now())
        }
    }
}

/// Sends a signed bundle to a node's control API (`PUT /v1/bundle`) with the node token, and reads its answer.
public struct NodePusher: Sendable {
    public enum Answer: Sendable, Equatable {
        case ack(version: Int)
        case nack(version: Int?, error: String)
        case unreachable(String)
    }

    let token: String?
    let timeout: TimeAmount
    private var http: HTTPClient { HTTPClient.shared }

    public init(token: String?, timeout: TimeAmount = .seconds(5)) {
        self.token = token
        self.timeout = timeout
    }

    struct Report: Decodable {
        var status: String
        var version: Int
        var error: String?
    }

    public func push(_ signed: Data, to controlURL: String) async -> Answer {
        var request = HTTPClientRequest(url: controlURL + "/v1/bundle")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: signed))
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = Data(buffer: try await response.body.collect(upTo: 1 << 20))
            guard let report = try? JSONDecoder().decode(Report.self, from: body) else {
                return .unreachable("answered \(response.status.code) without a report: \(String(decoding: body.prefix(300), as: UTF8.self))")
            }
            return report.status == "ack" ? .ack(version: report.version) : .nack(version: report.version, error: report.error ?? "no reason given")
        } catch {
            return .unreachable("\(error)")
        }
    }
}

extension NodePusher {
    /// Sends a signed GDPR/CCPA directive to a node's control API; the node's receipt, or why there is none.
    public func send(_ directive: SignedDirective, to controlURL: String) async -> Result<DirectiveReceipt, DirectiveFailure> {
        var request = HTTPClientRequest(url: controlURL + "/v1/directives")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        do {
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(directive)))
            // An access answer carries the subject's records: more time and room than a bundle's ACK. Not much
            // more: the client retries a refused connection until this deadline, and a pass waits for it.
            let response = try await http.execute(request, timeout: .seconds(20))
            let body = Data(buffer: try await response.body.collect(upTo: 256 << 20))
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            guard response.status == .ok else {
                let detail = (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["detail"] as? String
                return .failure(DirectiveFailure("the node answered \(response.status.code): \(detail ?? String(decoding: body.prefix(300), as: UTF8.self))"))
            }
            do {
                return .success(try decoder.decode(DirectiveReceipt.self, from: body))
            } catch {
                return .failure(DirectiveFailure("the node's receipt does not decode: \(error)"))
            }
        } catch {
            return .failure(DirectiveFailure("unreachable: \(error)"))
        }
    }
}

/// Why a node gave no receipt.
public struct DirectiveFailure: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

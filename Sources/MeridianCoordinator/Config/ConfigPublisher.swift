import Crypto
import Foundation
import Logging
import MeridianCore
import ServiceLifecycle
import Synchronization

/// Turns changes into signed config versions and pushes them to the nodes, xDS-style.
///
/// A change (any mutation of a customer) calls ``changed()``. Changes that arrive within `debounce`, or while
/// a version is being published, are coalesced into the next version. Publishing compiles one bundle per
/// region, and gives it a new version only when its content differs from the newest version's (a restart
/// does not bump the version); it then pushes each region's bundle to every node known in that region and
/// records each ACK, NACK or failure. Nodes also pull (``NodeProtocolRoutes``), which is how a node that missed a
/// push, or was started before the coordinator, catches up.
///
/// The publisher is a `Service`: its loop publishes on each change, runs the pushes as child tasks, and keeps a
/// timer for the registry's next date (a sub-processor coming into force), all ending on graceful shutdown.
public actor ConfigPublisher: Service {
    public struct Outcome: Sendable {
        public var version: Int
        /// False when the content equalled the newest version, which stays in force.
        public var isNew: Bool
    }

    /// What the loop is asked to do.
    enum Signal: Sendable {
        /// Something the bundles depend on changed.
        case changed
        /// Push a version already published (the first push after start).
        case push(Int)
    }

    let customers: any CustomerRepository
    let subprocessors: SubProcessorRepository?
    let objections: ObjectionRepository?
    let config: ConfigRepository
    let nodes: NodeRepository
    let compiler: ConfigCompiler
    let key: Curve25519.Signing.PrivateKey
    let pusher: NodePusher
    /// A node's answer counts only when that node signed it (``NodeAuthority/check(_:by:now:)``).
    let authority: NodeAuthority
    let debounce: Duration
    /// Whether this replica leads (``Leadership``): only the leader publishes and pushes.
    let isLeading: @Sendable () -> Bool
    /// Tells the other replicas of a change made here, so that the leader publishes it.
    let bell: ReplicaBell?
    let logger: Logger
    let now: @Sendable () -> Date
    private nonisolated let signals: AsyncStream<Signal>
    private nonisolated let signal: AsyncStream<Signal>.Continuation
    /// Changes asked for so far, counted by ``changed()``; the loop publishes up to the count it read.
    private nonisolated let requested = Mutex(0)
    /// The count of changes the newest publish covered.
    private var published = 0
    private var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
    /// Nodes with a push in flight, and those among them that need the newest bundle once it ends.
    private var pushing: Set<String> = []
    private var again: Set<String> = []
    /// The newest signed bundle of each region, as published by this coordinator, so that pushes to many
    /// nodes do not each read and open it from the database.
    private var newest: [RegionID: PublishedBundle] = [:]
    /// A publish is running; others wait their turn (``publish()``).
    private var publishing = false
    private var publishWaiters: [CheckedContinuation<Void, Never>] = []
    /// The registry's next date the bundles must follow, as the newest compile found it.
    private var nextChange: Date?
    /// The date the loop's timer is set for; a timer of an older date does nothing when it rings.
    private var wakeAt: Date?
    /// The policy each region's bundle carries in the newest version: what the nodes enforce, and what
    /// `/privacy` publishes.
    public private(set) var enforcedPolicies: [RegionID: NodeBundle.Policy] = [:]

    public init(
        customers: any CustomerRepository, subprocessors: SubProcessorRepository? = nil, objections: ObjectionRepository? = nil,
        config: ConfigRepository, nodes: NodeRepository, compiler: ConfigCompiler, key: Curve25519.Signing.PrivateKey, pusher: NodePusher,
        authority: NodeAuthority, debounce: Duration = .milliseconds(2), isLeading: @escaping @Sendable () -> Bool = { true }, bell: ReplicaBell? = nil,
        logger: Logger, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.isLeading = isLeading
        self.bell = bell
        self.customers = customers
        self.subprocessors = subprocessors
        self.objections = objections
        self.config = config
        self.nodes = nodes
        self.compiler = compiler
        self.key = key
        self.pusher = pusher
        self.authority = authority
        self.debounce = debounce
        self.logger = logger
        self.now = now
        (signals, signal) = AsyncStream.makeStream()
    }

    /// Something the bundles depend on changed; a version follows shortly, published by whichever replica
    /// leads. Returns at once.
    public nonisolated func changed() {
        changedElsewhere()
        bell?.ring(.config)
    }

    /// Another replica made a change, or this one started leading: publishes if this replica leads.
    public nonisolated func changedElsewhere() {
        requested.withLock { $0 += 1 }
        signal.yield(.changed)
    }

    /// Pushes `version` (already published) to the nodes behind it, from the loop. Returns at once.
    public nonisolated func pushSoon(_ version: Int) {
        signal.yield(.push(version))
    }

    /// Waits until every change made before the call is published; pushes may still be in flight (for tests).
    public func settled() async {
        let target = requested.withLock { $0 }
        guard target > published else { return }
        await withCheckedContinuation { waiters.append((target, $0)) }
    }

    /// Publishes on each change (changes within `debounce`, or made while a version is published, become one
    /// version), runs each push as a child task, until graceful shutdown; pushes in flight then end.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await next in signals {
                    switch next {
                    case .changed:
                        guard requested.withLock({ $0 }) > published else { continue }
                        guard isLeading() else {
                            // The leader publishes it; it heard of the change from the bell.
                            settle(requested.withLock { $0 })
                            continue
                        }
                        try? await Task.sleep(for: debounce)
                        let covered = requested.withLock { $0 }
                        do {
                            let outcome = try await publish()
                            push(outcome.version, into: &group)
                        } catch {
                            logger.error("config: publishing failed; the nodes keep the version they have", metadata: ["error": "\(error)"])
                        }
                        settle(covered)
                    case .push(let version):
                        if isLeading() { push(version, into: &group) }
                    }
                    setTimer(into: &group)
                }
            }
        } onGracefulShutdown: { [signal] in
            signal.finish()
        }
        settle(Int.max)
    }

    private func settle(_ covered: Int) {
        published = max(published, covered)
        let done = waiters.filter { $0.target <= published }
        waiters.removeAll { $0.target <= published }
        for waiter in done { waiter.continuation.resume() }
    }

    /// Sets the loop's timer for the registry's next date, so that bundles follow it with no change made.
    private func setTimer(into group: inout DiscardingTaskGroup) {
        guard let date = nextChange, date != wakeAt else { return }
        wakeAt = date
        // At most an hour at a time: the wall clock may jump, and the check is cheap.
        let seconds = min(3600, max(0, date.timeIntervalSince(now())) + 0.5)
        group.addTask {
            guard (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }) != nil else { return }
            await self.wake(for: date)
        }
    }

    /// The timer of the registry's next date rang: a change, unless a newer date replaced it.
    private func wake(for date: Date) {
        guard wakeAt == date else { return }
        wakeAt = nil
        changedElsewhere()
    }

    /// Compiles the current state; stores it as a new version unless the newest version has the same content.
    /// One at a time: the actor would otherwise let a second publish start while the first awaits the database,
    /// and both would store the same content as two versions (a start-up publish and the new leader's did).
    @discardableResult
    public func publish() async throws -> Outcome {
        while publishing { await withCheckedContinuation { publishWaiters.append($0) } }
        publishing = true
        defer {
            publishing = false
            if !publishWaiters.isEmpty { publishWaiters.removeFirst().resume() }
        }
        return try await compileAndStore()
    }

    private func compileAndStore() async throws -> Outcome {
        let active = try await customers.allActive()
        let date = now()
        let registry = ConfigCompiler.Registry(
            subprocessors: try await subprocessors?.all() ?? [], objections: try await objections?.standing() ?? [:], at: date)
        nextChange = SubProcessor.nextChange(registry.subprocessors, after: date)
        let unversioned = try compiler.compile(active, registry: registry, version: 0)
        let policies = Dictionary(unversioned.map { ($0.region, $0.policy) }, uniquingKeysWith: { a, _ in a }).compactMapValues { $0 }
        // The content's digest, of the secrets in the clear (what is signed has them sealed under a fresh key).
        var hasher = SHA256()
        for bytes in try unversioned.parallelMap({ $0.canonicalJSON() }) { hasher.update(data: bytes) }
        let digest = hasher.finalize().hexString
        if let latest = try await config.latest(), latest.digest == digest {
            enforcedPolicies = policies
            return Outcome(version: latest.version, isNew: false)
        }
        newest = [:]
        let key = self.key
        let regionKeys = RegionKeys(secrets: compiler.secrets)
        let (version, bundles) = try await config.publish(digest: digest, customers: active.count, at: now(), audit: .system("config")) { version in
            let versioned = unversioned.map { bundle in
                var bundle = bundle
                bundle.version = version
                return bundle
            }
            let signed = try ConfigCompiler.sign(versioned, with: key, sealingTo: regionKeys)
            return zip(unversioned, signed).map { PublishedBundle(region: $0.region, version: version, signed: $1) }
        }
        for bundle in bundles { newest[bundle.region] = bundle }
        enforcedPolicies = policies
        logger.info("config: published version \(version)", metadata: ["customers": "\(active.count)", "digest": "\(digest.prefix(12))"])
        return Outcome(version: version, isNew: true)
    }

    /// Pushes the newest bundle of its region to every node not yet at `version`, all at once. A node still
    /// busy with an earlier push (a slow or stopped node) gets the newest bundle when that push ends, so one
    /// slow node delays nobody else and never receives a backlog of versions.
    private func push(_ version: Int, into group: inout DiscardingTaskGroup) {
        group.addTask { await self.startPushes(version) }
    }

    private func startPushes(_ version: Int) async {
        let nodes: [NodeRecord]
        do {
            nodes = try await self.nodes.nodes()
        } catch {
            logger.error("config: cannot list the nodes to push to", metadata: ["error": "\(error)"])
            return
        }
        await withDiscardingTaskGroup { group in
            for node in nodes where node.takesPushes && ((node.appliedVersion ?? 0) < version || node.lastResult != .ack) {
                if pushing.contains(node.id) {
                    again.insert(node.id)
                    continue
                }
                pushing.insert(node.id)
                group.addTask { await self.pushLoop(node) }
            }
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
        guard (try? await nodes.node(node.id))?.takesPushes ?? false else { return }  // revoked or forgotten meanwhile
        switch answer {
        case .answered(let report):
            do {
                // Certificates and signed times are on the machines' clocks, not on the coordinator's `now` of tests.
                try authority.check(report, by: node, now: Date())
            } catch {
                logger.error("config: node \(node.id)'s answer is not signed by it; not counted", metadata: ["error": "\(error.reason)"])
                try? await nodes.record(node: node.id, result: .unreachable, version: nil, error: "its answer was refused: \(error.reason)", at: now())
                return
            }
            if report.status == .nack {
                logger.error("config: node \(node.id) refused version \(bundle.version)", metadata: ["error": "\(report.error ?? "-")"])
            }
            try? await nodes.record(
                node: node.id, result: report.status == .ack ? .ack : .nack, version: report.version,
                error: report.status == .ack ? nil : report.error ?? "no reason given", signed: report.signed, at: now())
        case .unreachable(let error):
            logger.warning("config: cannot push version \(bundle.version) to node \(node.id); it will pull", metadata: ["error": "\(error)"])
            try? await nodes.record(node: node.id, result: .unreachable, version: nil, error: error, at: now())
        }
    }
}

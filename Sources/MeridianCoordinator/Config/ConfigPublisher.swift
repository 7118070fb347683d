import Crypto
import Foundation
import Logging
import MeridianCore
import ServiceLifecycle
import Synchronization

/// Turns changes into signed config versions and sends them to the nodes as deltas, in the manner of Envoy's delta
/// xDS.
///
/// A change calls ``changed(customers:)`` with the customers it touched, or ``changed()`` when anything may have
/// changed (the registry, an objection, the leader's start). Changes that arrive within `debounce`, or while a
/// version is being published, are coalesced into the next version. The leader keeps what every region's nodes
/// hold (``CompiledConfig``): a change of a few customers compiles only them, and each region gets a signed
/// ``NodeBundleDelta`` from the version before. A change of everything compiles every customer and sends what
/// differs. A version is stored only when some region's content changed (a restart does not bump the version).
/// Every 64 versions, and when the leader starts with none kept, each region's whole bundle is signed as a snapshot,
/// which nodes that are new or far behind get before the deltas after it (``ConfigRepository/update(for:from:)``).
///
/// Each version is pushed to every node known in its region, as the delta from the node's version when the node
/// is one version behind, else as the update the repository assembles; each ACK, NACK or failure is recorded.
/// Nodes also pull (``NodeLinkRoutes``), which is how a node that missed a push, or was started before the
/// coordinator, catches up.
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
    /// What the nodes hold at the newest version this replica published or found; nil until a full compile, and
    /// after a publish that failed. A stale one (another replica published since) is caught by the version check of
    /// ``ConfigRepository/publish(digest:customers:at:audit:base:make:)``.
    private var compiled: CompiledConfig?
    /// Customers changed since the last publish; `everything` when something other than customers changed.
    private nonisolated let pending = Mutex<(customers: Set<String>, everything: Bool)>(([], true))
    /// The newest version's delta of each region, signed, so that pushes to many nodes do not each read it from the
    /// database.
    private var newest: [RegionID: PublishedDelta] = [:]
    /// The version of each region's stored snapshot.
    private var snapshots: [RegionID: Int] = [:]
    /// A snapshot is being signed in the background.
    private var snapshotting = false
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

    /// The customers `ids` changed (and nothing else): the next version compiles only them. Returns at once.
    public nonisolated func changed(customers ids: [String]) {
        changedElsewhere(customers: ids)
        bell?.ring(.config, ids: ids)
    }

    /// Another replica made a change (of the customers `ids` when given, else of anything), or this one started
    /// leading: publishes if this replica leads.
    public nonisolated func changedElsewhere(customers ids: [String]? = nil) {
        pending.withLock { pending in
            if let ids { pending.customers.formUnion(ids) } else { pending.everything = true }
        }
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
                            // The leader publishes it; it heard of the change from the bell. What this replica kept
                            // stays: if another replica published meanwhile, its deltas would not follow the newest
                            // version, and the repository refuses them (``ConfigRepository/publish``).
                            pending.withLock { $0 = ([], true) }
                            settle(requested.withLock { $0 })
                            continue
                        }
                        try? await Task.sleep(for: debounce)
                        let covered = requested.withLock { $0 }
                        do {
                            let outcome = try await publishPending()
                            push(outcome.version, into: &group)
                            snapshotIfDue(into: &group)
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

    /// Compiles every customer; stores the result as a new version unless the newest version has the same content.
    /// One at a time: the actor would otherwise let a second publish start while the first awaits the database,
    /// and both would store the same content as two versions (a start-up publish and the new leader's did).
    @discardableResult
    public func publish() async throws -> Outcome {
        // Changes asked for before it are covered by it: the loop does not compile everything again for them (the
        // start-up publish and the lead taken at start ask for the same).
        let covered = requested.withLock { $0 }
        pending.withLock { $0.everything = true }
        let outcome = try await publishPending()
        settle(covered)
        return outcome
    }

    /// Publishes the changes recorded since the last publish: only the customers changed when nothing else did.
    func publishPending() async throws -> Outcome {
        while publishing { await withCheckedContinuation { publishWaiters.append($0) } }
        publishing = true
        defer {
            publishing = false
            if !publishWaiters.isEmpty { publishWaiters.removeFirst().resume() }
        }
        return try await compileAndStore()
    }

    private func compileAndStore() async throws -> Outcome {
        let (ids, everything) = pending.withLock { pending in
            defer { pending = ([], false) }
            return (pending.customers, pending.everything)
        }
        do {
            if !everything, compiled != nil, ids.count <= Self.mostCompiledApart, let outcome = try await publish(customers: ids) {
                return outcome
            }
            return try await publishEverything()
        } catch {
            // Compiled again in full next time, from the database.
            compiled = nil
            pending.withLock { $0.everything = true }
            throw error
        }
    }

    /// Beyond this many changed customers one full compile is quicker than reading each.
    static let mostCompiledApart = 5_000

    /// Compiles the customers `ids` into the next version and stores each region's delta; nil when another
    /// version came first (the caller compiles in full).
    private func publish(customers ids: Set<String>) async throws -> Outcome? {
        guard var next = compiled else { return nil }
        // Taken out while it changes, so that its million entries are changed in place and not copied.
        compiled = nil
        let base = next.version
        var records: [String: CustomerRecord?] = [:]
        for id in ids { records[id] = .some(try await customers.find(id)) }
        let deltas = try next.apply(records, compiler: compiler)
        if deltas.values.allSatisfy(\.isEmpty) {
            next.renumber(base)
            compiled = next
            return Outcome(version: base, isNew: false)
        }
        let digest = next.digest
        let signed = try sign(deltas)
        guard let stored = try await config.publish(digest: digest, customers: next.customerCount, at: now(), audit: .system("config"), base: base, make: { _ in
            Publication(deltas: signed)
        }) else { return nil }
        compiled = next
        newest = Dictionary(uniqueKeysWithValues: stored.publication.deltas.map { ($0.region, $0) })
        logger.info("config: published version \(stored.version)", metadata: ["customers changed": "\(ids.count)", "digest": "\(digest.prefix(12))"])
        return Outcome(version: stored.version, isNew: true)
    }

    /// Compiles every customer; stores the result as a new version unless the newest version has the same content.
    /// What differs from the kept state goes as deltas; with none kept (the leader's start), as snapshots.
    private func publishEverything() async throws -> Outcome {
        let active = try await customers.allActive()
        let date = now()
        let registry = ConfigCompiler.Registry(
            subprocessors: try await subprocessors?.all(fresh: true) ?? [], objections: try await objections?.standing() ?? [:], at: date)
        nextChange = SubProcessor.nextChange(registry.subprocessors, after: date)
        let previous = compiled
        compiled = nil
        let bundles = try compiler.compile(active, registry: registry, version: 0)
        // The digest first: the maps the deltas need are built only when they are needed, and after a snapshot is
        // stored, so that a full version takes no longer than compiling, hashing and signing.
        let (digest, sums) = CompiledConfig.contentDigest(bundles)
        let policies = Dictionary(bundles.compactMap { bundle in bundle.policy.map { (bundle.region, $0) } }, uniquingKeysWith: { a, _ in a })
        func kept(_ version: Int) throws -> CompiledConfig {
            try CompiledConfig(bundles, registry: registry, version: version, customers: active.count, sums: sums)
        }
        let latest = try await config.latest()
        if let latest, latest.digest == digest {
            compiled = try kept(latest.version)
            enforcedPolicies = policies
            snapshots = try await config.snapshotVersions()
            return Outcome(version: latest.version, isNew: false)
        }
        newest = [:]
        let key = self.key
        let regionKeys = RegionKeys(secrets: compiler.secrets)
        if let previous, previous.version == latest?.version {
            let next = try kept(previous.version + 1)
            let signed = try sign(previous.deltas(to: next))
            if let stored = try await config.publish(
                digest: digest, customers: active.count, at: now(), audit: .system("config"), base: previous.version, make: { _ in Publication(deltas: signed) })
            {
                compiled = next
                newest = Dictionary(uniqueKeysWithValues: stored.publication.deltas.map { ($0.region, $0) })
                enforcedPolicies = policies
                logger.info("config: published version \(stored.version)", metadata: ["customers": "\(active.count)", "digest": "\(digest.prefix(12))"])
                return Outcome(version: stored.version, isNew: true)
            }
        }
        guard let stored = try await config.publish(digest: digest, customers: active.count, at: now(), audit: .system("config"), make: { version in
            let numbered = bundles.map { bundle in
                var bundle = bundle
                bundle.version = version
                return bundle
            }
            let signed = try ConfigCompiler.sign(numbered, with: key, sealingTo: regionKeys)
            return Publication(snapshots: zip(numbered, signed).map { PublishedBundle(region: $0.region, version: version, signed: $1) })
        }) else { throw CoordinatorError(.configNotCompiled, "the version could not be stored") }
        compiled = try kept(stored.version)
        snapshots = Dictionary(uniqueKeysWithValues: stored.publication.snapshots.map { ($0.region, $0.version) })
        enforcedPolicies = policies
        logger.info("config: published version \(stored.version) as snapshots", metadata: ["customers": "\(active.count)", "digest": "\(digest.prefix(12))"])
        return Outcome(version: stored.version, isNew: true)
    }

    /// Each region's delta sealed to the region and signed.
    private func sign(_ deltas: [RegionID: NodeBundleDelta]) throws -> [PublishedDelta] {
        let regionKeys = RegionKeys(secrets: compiler.secrets)
        return try deltas.values.sorted { $0.region.rawValue < $1.region.rawValue }.map { delta in
            let sent = delta.customers.isEmpty ? delta : try delta.sealingSecrets(with: try regionKeys.sealer(for: delta.region))
            return PublishedDelta(
                region: delta.region, baseVersion: delta.baseVersion, version: delta.version,
                signed: Data(try SignedBundle.signedJSON(canonical: sent.canonicalJSON(), with: key)))
        }
    }

    /// Every this many versions each region's whole bundle is signed again as a snapshot, so that a node that is new
    /// or far behind gets a recent snapshot and few deltas.
    static let snapshotEvery = 64

    /// Signs the kept state's snapshots in the background once the stored ones are `snapshotEvery` versions old.
    private func snapshotIfDue(into group: inout DiscardingTaskGroup) {
        guard !snapshotting, let state = compiled else { return }
        let oldest = state.regions.keys.map { snapshots[$0] ?? 0 }.min() ?? 0
        guard state.version - oldest >= Self.snapshotEvery else { return }
        snapshotting = true
        let key = self.key
        let regionKeys = RegionKeys(secrets: compiler.secrets)
        let config = self.config
        group.addTask {
            let start = ContinuousClock.now
            do {
                let signed = try Self.signedSnapshots(of: state, key: key, regionKeys: regionKeys)
                try await config.storeSnapshots(signed, at: self.now(), audit: .system("config"))
                await self.snapshotted(state.version, regions: signed.map(\.region), after: ContinuousClock.now - start)
            } catch {
                await self.snapshotted(nil, regions: [], after: ContinuousClock.now - start)
                self.logger.error("config: cannot store the snapshots of version \(state.version)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Every region's whole bundle of `state`, sealed and signed.
    static func signedSnapshots(of state: CompiledConfig, key: Curve25519.Signing.PrivateKey, regionKeys: RegionKeys) throws -> [PublishedBundle] {
        let bundles = try state.snapshots()
        let signed = try ConfigCompiler.sign(bundles, with: key, sealingTo: regionKeys)
        return zip(bundles, signed).map { PublishedBundle(region: $0.region, version: state.version, signed: $1) }
    }

    /// The kept state's snapshots, signed as the background signs them (for tests).
    func keptSnapshots() throws -> [PublishedBundle] {
        guard let state = compiled else { return [] }
        return try Self.signedSnapshots(of: state, key: key, regionKeys: RegionKeys(secrets: compiler.secrets))
    }

    private func snapshotted(_ version: Int?, regions: [RegionID], after duration: Duration) {
        snapshotting = false
        guard let version else { return }
        for region in regions { snapshots[region] = max(snapshots[region] ?? 0, version) }
        logger.info("config: stored the snapshots of version \(version)", metadata: ["took": "\(duration)"])
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

    private func pushLoop(_ first: NodeRecord) async {
        var node = first
        repeat {
            again.remove(node.id)
            guard let region = RegionID(node.region) else { break }
            let from = node.appliedVersion ?? 0
            // A node one version behind gets the newest delta as this replica signed it; any other, what the
            // repository assembles from its version.
            let update: (newest: Int, json: Data?)?
            if let delta = newest[region], delta.baseVersion == from {
                update = (delta.version, ConfigUpdate.json(snapshot: nil, deltas: [delta.signed]))
            } else {
                update = try? await config.update(for: region, from: from)
            }
            guard let update, let json = update.json else { break }
            await push(json, version: update.newest, to: node)
            guard again.contains(node.id), let current = try? await nodes.node(node.id) else { break }
            node = current
        } while true
        pushing.remove(node.id)
    }

    private func push(_ json: Data, version: Int, to node: NodeRecord) async {
        let answer = await pusher.push(json, to: node.controlURL)
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
                logger.error("config: node \(node.id) refused version \(version)", metadata: ["error": "\(report.error ?? "-")"])
            }
            try? await nodes.record(
                node: node.id, result: report.status == .ack ? .ack : .nack, version: report.version,
                error: report.status == .ack ? nil : report.error ?? "no reason given", signed: report.signed, at: now())
        case .unreachable(let error):
            logger.warning("config: cannot push version \(version) to node \(node.id); it will pull", metadata: ["error": "\(error)"])
            try? await nodes.record(node: node.id, result: .unreachable, version: nil, error: error, at: now())
        }
    }
}

import Crypto
import Foundation
import MeridianCore

/// What every region's nodes hold at one config version, as the leading coordinator keeps it between versions, so
/// that a change is compiled for the customers it touches and sent as a delta (``NodeBundleDelta``).
///
/// Each region is a map of resources, in the manner of Envoy's delta xDS: customers by id and the domains pinned
/// elsewhere by domain, plus the region's policy, egress policy and sub-processors. The content digest of a
/// version is kept up to date resource by resource (``ContentDigest``), so that no change needs a pass over a
/// million customers, and a restarted leader can still tell whether what it compiles is the newest version.
public struct CompiledConfig: Sendable {
    public internal(set) var version: Int
    var regions: [RegionID: Region]
    /// Active customers, in any region.
    public private(set) var customerCount: Int
    /// The registry and objections the steps of every entry were compiled with.
    var registry: ConfigCompiler.Registry

    struct Region: Sendable {
        /// Version, region, policy, egress policy and sub-processors; no customers.
        var header: NodeBundle
        var customers: [String: NodeBundle.Customer]
        var elsewhere: [String: NodeBundle.PinnedElsewhere]
        /// The sum of the digests of the customers and of the domains pinned elsewhere.
        var resources: ContentDigest

        /// The region of `bundle`, whose resources' digest is already summed.
        init(_ bundle: NodeBundle, resources: ContentDigest) {
            var header = bundle
            header.customers = []
            header.elsewhere = []
            self.header = header
            customers = Dictionary(uniqueKeysWithValues: bundle.customers.map { ($0.id, $0) })
            elsewhere = Dictionary(uniqueKeysWithValues: bundle.elsewhere.map { ($0.domain, $0) })
            self.resources = resources
        }

        /// The region's whole bundle at `version`, sorted as the compiler sorts it.
        func snapshot(version: Int) -> NodeBundle {
            var bundle = header
            bundle.version = version
            bundle.customers = customers.values.sorted { $0.id < $1.id }
            bundle.elsewhere = elsewhere.values.sorted { $0.domain < $1.domain }
            return bundle
        }
    }

    /// The state of a full compile (every customer), at `version`.
    /// `customers` is how many active customers the bundles hold (counted from them when not given).
    /// `sums` are the bundles' ``resourceDigests(_:)`` when already worked out (``contentDigest(_:)``).
    public init(
        _ bundles: [NodeBundle], registry: ConfigCompiler.Registry, version: Int, customers: Int? = nil, sums: [ContentDigest]? = nil
    ) throws {
        self.version = version
        self.registry = registry
        customerCount = customers ?? Set(bundles.flatMap { $0.customers.map(\.id) }).count
        let sums = sums ?? Self.resourceDigests(bundles)
        let built = try Array(zip(bundles, sums)).parallelMap { Region($0, resources: $1) }
        regions = Dictionary(uniqueKeysWithValues: zip(bundles.map(\.region), built))
        renumber(version)
    }

    /// Each bundle's resources summed (``ContentDigest``), hashing each resource once though it is in several
    /// bundles: an unpinned customer is in every region (hashed again only where its entry differs, its steps), and
    /// a pinned domain in every region but its own (all of them are in the first bundle's `elsewhere`, but for the
    /// first region's own, which the second bundle's holds). Chunks of resources are hashed on every core.
    static func resourceDigests(_ bundles: [NodeBundle]) -> [ContentDigest] {
        guard let first = bundles.first else { return [] }
        let firstHashes = ContentDigest.hashes(first.customers)
        let unpinned = zip(first.customers, firstHashes).filter { $0.0.region == nil }
        var sums: [ContentDigest] = []
        for (index, bundle) in bundles.enumerated() {
            var sum = ContentDigest()
            if index == 0 {
                for hash in firstHashes { sum.add(hash) }
            } else {
                // Unpinned customers come in the same order in every bundle (sorted by id).
                var next = unpinned.startIndex
                var differing: [NodeBundle.Customer] = []
                for customer in bundle.customers {
                    if customer.region == nil, next < unpinned.endIndex, unpinned[next].0.id == customer.id {
                        defer { next += 1 }
                        if unpinned[next].0 == customer {
                            sum.add(unpinned[next].1)
                            continue
                        }
                    }
                    differing.append(customer)
                }
                for hash in ContentDigest.hashes(differing) { sum.add(hash) }
            }
            sums.append(sum)
        }
        // Pins by home region, each hashed once; a region's `elsewhere` is every pin but its own.
        var byHome: [RegionID: ContentDigest] = [:]
        let pins = first.elsewhere + (bundles.count > 1 ? bundles[1].elsewhere.filter { $0.region == first.region } : [])
        for (pin, hash) in zip(pins, ContentDigest.hashes(pins)) { byHome[pin.region, default: ContentDigest()].add(hash) }
        for (index, bundle) in bundles.enumerated() {
            for (home, sum) in byHome where home != bundle.region { sums[index].add(sum) }
        }
        return sums
    }

    /// Every region's whole bundle at the kept version, regions in order: the snapshots.
    public func snapshots() throws -> [NodeBundle] {
        let version = self.version
        return try regions.values.sorted { $0.header.region.rawValue < $1.header.region.rawValue }.parallelMap { $0.snapshot(version: version) }
    }

    /// The same content as `version`.
    public mutating func renumber(_ version: Int) {
        self.version = version
        for id in Array(regions.keys) {
            var region = regions.removeValue(forKey: id)!
            region.header.version = version
            regions[id] = region
        }
    }

    /// The content digest of the version: each region's header and resources, regions in order. The version number
    /// is left out, so that the same content always gives the same digest.
    public var digest: String {
        Self.digest(regions.values.map { ($0.header, $0.resources) })
    }

    /// The content digest of a full compile's bundles, and their resources' sums to keep: what a full version needs
    /// before it is stored, without the maps the deltas need (``init(_:registry:version:customers:sums:)`` builds
    /// them after).
    public static func contentDigest(_ bundles: [NodeBundle]) -> (digest: String, sums: [ContentDigest]) {
        let sums = resourceDigests(bundles)
        return (digest(zip(bundles, sums).map { ($0, $1) }), sums)
    }

    private static func digest(_ regions: [(header: NodeBundle, resources: ContentDigest)]) -> String {
        var hasher = SHA256()
        for (header, resources) in regions.sorted(by: { $0.header.region.rawValue < $1.header.region.rawValue }) {
            var header = header
            header.version = 0
            header.customers = []
            header.elsewhere = []
            hasher.update(data: header.canonicalJSON())
            hasher.update(data: resources.bytes)
        }
        return hasher.finalize().hexString
    }

    /// The delta of each region from this state to `new` (a full compile of the next version).
    public func deltas(to new: CompiledConfig) -> [RegionID: NodeBundleDelta] {
        var deltas: [RegionID: NodeBundleDelta] = [:]
        for (id, region) in new.regions {
            let old = regions[id]
            var delta = NodeBundleDelta(region: id, baseVersion: version, version: new.version)
            for (key, customer) in region.customers where old?.customers[key] != customer { delta.customers.append(customer) }
            for (key, entry) in region.elsewhere where old?.elsewhere[key] != entry { delta.elsewhere.append(entry) }
            if let old {
                for key in old.customers.keys where region.customers[key] == nil { delta.removedCustomers.append(key) }
                for key in old.elsewhere.keys where region.elsewhere[key] == nil { delta.removedElsewhere.append(key) }
            }
            if old?.header.policy != region.header.policy { delta.policy = region.header.policy }
            if old?.header.egress != region.header.egress { delta.egress = region.header.egress }
            if old?.header.subprocessors != region.header.subprocessors { delta.subprocessors = region.header.subprocessors }
            deltas[id] = delta.sorted()
        }
        return deltas
    }

    /// Compiles the customers `changed` (their records now, nil for one gone) into the next version, and returns
    /// each region's delta. Only those customers are compiled: their secrets opened, their entries checked, their
    /// steps worked out from the registry of the last full compile.
    public mutating func apply(_ changed: [String: CustomerRecord?], compiler: ConfigCompiler) throws -> [RegionID: NodeBundleDelta] {
        let next = version + 1
        var deltas = Dictionary(uniqueKeysWithValues: regions.keys.map { ($0, NodeBundleDelta(region: $0, baseVersion: version, version: next)) })
        for (id, record) in changed.sorted(by: { $0.key < $1.key }) {
            let entry = try record.flatMap { $0.status == .active ? try ConfigCompiler.entry($0, secrets: compiler.secrets) : nil }
            if let pin = entry?.region, compiler.catalog.region(pin) == nil {
                throw CoordinatorError(.configNotCompiled, "customer \(id) is pinned to \(pin), which is not in Regions/")
            }
            let old = regions.values.lazy.compactMap { $0.customers[id] }.first
            customerCount += (entry == nil ? 0 : 1) - (old == nil ? 0 : 1)
            let oldPins = Self.pins(of: old, catalog: compiler.catalog)
            let newPins = Self.pins(of: entry, catalog: compiler.catalog)
            for regionID in Array(regions.keys) {
                // Taken out of the map while it changes, so that its dictionaries are changed in place, not copied.
                var region = regions.removeValue(forKey: regionID)!
                var delta = deltas.removeValue(forKey: regionID)!
                let included = entry.map { $0.region == nil || $0.region == regionID } ?? false
                if included, var entry {
                    entry.steps = steps(for: id, in: regionID)
                    if region.customers[id] != entry {
                        if let previous = region.customers[id] { region.resources.remove(previous) }
                        region.customers[id] = entry
                        region.resources.add(entry)
                        delta.customers.append(entry)
                    }
                } else if let previous = region.customers.removeValue(forKey: id) {
                    region.resources.remove(previous)
                    delta.removedCustomers.append(id)
                }
                // Only this customer's own pins go: another customer may have claimed the domain in this version.
                for pin in oldPins where pin.region != regionID && !newPins.contains(pin) && region.elsewhere[pin.domain] == pin {
                    region.elsewhere[pin.domain] = nil
                    region.resources.remove(pin)
                    delta.removedElsewhere.append(pin.domain)
                }
                for pin in newPins where pin.region != regionID && region.elsewhere[pin.domain] != pin {
                    if let previous = region.elsewhere[pin.domain] { region.resources.remove(previous) }
                    region.elsewhere[pin.domain] = pin
                    region.resources.add(pin)
                    delta.elsewhere.append(pin)
                }
                region.header.version = next
                regions[regionID] = region
                deltas[regionID] = delta
            }
        }
        version = next
        return deltas.mapValues { $0.sorted() }
    }

    /// The domains a customer pinned to a region puts in the other regions' `elsewhere`.
    private static func pins(of entry: NodeBundle.Customer?, catalog: RegionCatalog) -> [NodeBundle.PinnedElsewhere] {
        guard let entry, let pin = entry.region, let home = catalog.region(pin) else { return [] }
        return entry.domains.map { NodeBundle.PinnedElsewhere(domain: $0, region: pin, mxHost: home.mxHost) }
    }

    /// The optional steps a customer's entry allows in a region, as ``ConfigCompiler/compile(_:registry:version:)``
    /// works them out.
    private func steps(for id: String, in region: RegionID) -> [ProcessingStep] {
        let serving = registry.subprocessors.filter { $0.serves(region, at: registry.at) }
        return SubProcessor.allowedOptionalSteps(serving, objectedTo: registry.objections[id] ?? [], in: region, at: registry.at)
    }
}

extension NodeBundleDelta {
    /// Its lists in key order, so that the same change always gives the same bytes.
    func sorted() -> NodeBundleDelta {
        var delta = self
        delta.customers.sort { $0.id < $1.id }
        delta.elsewhere.sort { $0.domain < $1.domain }
        // A key removed and then added again in the same version is just changed.
        let changed = Set(delta.customers.map(\.id))
        delta.removedCustomers = delta.removedCustomers.filter { !changed.contains($0) }.sorted()
        let pinned = Set(delta.elsewhere.map(\.domain))
        delta.removedElsewhere = delta.removedElsewhere.filter { !pinned.contains($0) }.sorted()
        return delta
    }
}

/// A digest of a set of resources that follows the set as resources come and go, without a pass over the rest: the
/// sum, lane by lane, of the SHA-256 of each resource's canonical JSON, in four 64-bit lanes (a multiset hash in
/// the manner of LtHash). Adding and removing commute, so any order of changes reaching the same set gives the
/// same digest. It tells versions apart and catches drift; the signatures, not this digest, are what a node trusts.
public struct ContentDigest: Sendable, Equatable {
    /// One resource's hash, or a sum of them.
    struct Lanes: Sendable, Equatable {
        var values: (UInt64, UInt64, UInt64, UInt64)

        static func == (lhs: Lanes, rhs: Lanes) -> Bool { lhs.values == rhs.values }
    }

    private var sum = Lanes(values: (0, 0, 0, 0))

    mutating func add(_ customer: NodeBundle.Customer) { add(Self.hash(customer)) }
    mutating func remove(_ customer: NodeBundle.Customer) { remove(Self.hash(customer)) }
    mutating func add(_ entry: NodeBundle.PinnedElsewhere) { add(Self.hash(entry)) }
    mutating func remove(_ entry: NodeBundle.PinnedElsewhere) { remove(Self.hash(entry)) }

    mutating func add(_ other: ContentDigest) { add(other.sum) }

    mutating func add(_ hash: Lanes) {
        let (a, b) = (sum.values, hash.values)
        sum = Lanes(values: (a.0 &+ b.0, a.1 &+ b.1, a.2 &+ b.2, a.3 &+ b.3))
    }

    mutating func remove(_ hash: Lanes) {
        let (a, b) = (sum.values, hash.values)
        sum = Lanes(values: (a.0 &- b.0, a.1 &- b.1, a.2 &- b.2, a.3 &- b.3))
    }

    var bytes: [UInt8] {
        [sum.values.0, sum.values.1, sum.values.2, sum.values.3].flatMap { lane in (0..<8).map { UInt8(truncatingIfNeeded: lane >> (8 * $0)) } }
    }

    static func hash(_ customer: NodeBundle.Customer) -> Lanes { hash(tag: customerTag, NodeBundle.canonicalJSON(of: customer)) }
    static func hash(_ entry: NodeBundle.PinnedElsewhere) -> Lanes { hash(tag: elsewhereTag, NodeBundle.canonicalJSON(of: entry)) }

    /// The hashes of many resources, in order, in chunks on every core.
    static func hashes(_ customers: [NodeBundle.Customer]) -> [Lanes] { chunked(customers, hash) }
    static func hashes(_ entries: [NodeBundle.PinnedElsewhere]) -> [Lanes] { chunked(entries, hash) }

    private static func chunked<T: Sendable>(_ items: [T], _ hash: @escaping @Sendable (T) -> Lanes) -> [Lanes] {
        let starts = Array(stride(from: 0, to: items.count, by: 16_384))
        let chunks = (try? starts.parallelMap { start in items[start..<min(start + 16_384, items.count)].map(hash) }) ?? []
        return chunks.flatMap { $0 }
    }

    private static let customerTag: [UInt8] = Array("customer".utf8) + [0]
    private static let elsewhereTag: [UInt8] = Array("elsewhere".utf8) + [0]

    /// The kind of resource goes first, so that no customer's JSON can hash as a pinned domain's.
    private static func hash(tag: [UInt8], _ bytes: [UInt8]) -> Lanes {
        var hasher = SHA256()
        hasher.update(data: tag)
        hasher.update(data: bytes)
        return hasher.finalize().withUnsafeBytes { raw in
            Lanes(values: (
                raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian, raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian,
                raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self).littleEndian, raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self).littleEndian))
        }
    }
}

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

        init(_ bundle: NodeBundle) {
            var header = bundle
            header.customers = []
            header.elsewhere = []
            self.header = header
            customers = Dictionary(uniqueKeysWithValues: bundle.customers.map { ($0.id, $0) })
            elsewhere = Dictionary(uniqueKeysWithValues: bundle.elsewhere.map { ($0.domain, $0) })
            var resources = ContentDigest()
            for customer in bundle.customers { resources.add(customer) }
            for entry in bundle.elsewhere { resources.add(entry) }
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
    public init(_ bundles: [NodeBundle], registry: ConfigCompiler.Registry, version: Int) throws {
        self.version = version
        self.registry = registry
        customerCount = Set(bundles.flatMap { $0.customers.map(\.id) }).count
        let built = try bundles.parallelMap { Region($0) }
        regions = Dictionary(uniqueKeysWithValues: zip(bundles.map(\.region), built))
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
        var hasher = SHA256()
        for id in regions.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let region = regions[id]!
            var header = region.header
            header.version = 0
            hasher.update(data: header.canonicalJSON())
            hasher.update(data: region.resources.bytes)
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
struct ContentDigest: Sendable, Equatable {
    private var lanes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    static func == (lhs: ContentDigest, rhs: ContentDigest) -> Bool { lhs.lanes == rhs.lanes }

    mutating func add(_ customer: NodeBundle.Customer) { combine(Self.hash("customer", NodeBundle.canonicalJSON(of: customer)), adding: true) }
    mutating func remove(_ customer: NodeBundle.Customer) { combine(Self.hash("customer", NodeBundle.canonicalJSON(of: customer)), adding: false) }
    mutating func add(_ entry: NodeBundle.PinnedElsewhere) { combine(Self.hash("elsewhere", NodeBundle.canonicalJSON(of: entry)), adding: true) }
    mutating func remove(_ entry: NodeBundle.PinnedElsewhere) { combine(Self.hash("elsewhere", NodeBundle.canonicalJSON(of: entry)), adding: false) }

    var bytes: [UInt8] {
        [lanes.0, lanes.1, lanes.2, lanes.3].flatMap { lane in (0..<8).map { UInt8(truncatingIfNeeded: lane >> (8 * $0)) } }
    }

    private static func hash(_ kind: String, _ bytes: [UInt8]) -> (UInt64, UInt64, UInt64, UInt64) {
        var hasher = SHA256()
        hasher.update(data: Array(kind.utf8) + [0])
        hasher.update(data: bytes)
        let digest = Array(hasher.finalize())
        func lane(_ index: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(digest[index * 8 + $1]) << (8 * $1) } }
        return (lane(0), lane(1), lane(2), lane(3))
    }

    private mutating func combine(_ hash: (UInt64, UInt64, UInt64, UInt64), adding: Bool) {
        if adding {
            lanes = (lanes.0 &+ hash.0, lanes.1 &+ hash.1, lanes.2 &+ hash.2, lanes.3 &+ hash.3)
        } else {
            lanes = (lanes.0 &- hash.0, lanes.1 &- hash.1, lanes.2 &- hash.2, lanes.3 &- hash.3)
        }
    }
}

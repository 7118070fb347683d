import Crypto
import Foundation

/// What changed in a region's bundle from one version to the next, in the manner of Envoy's delta xDS: the
/// customers added or changed (each whole), the customer ids removed, the same for the domains pinned elsewhere,
/// and the region's policy, egress policy and sub-processors when they changed (absent when they did not).
///
/// A node applies a delta only to the version it names as its base (`base_version`); applied, the node holds the
/// very state the snapshot of `version` holds, so a message's metadata still names the whole config that applied.
/// A node that is new, or has a version the coordinator no longer keeps deltas from, gets the snapshot instead.
/// A delta travels signed like a bundle (``SignedBundle``). Its canonical JSON is wrapped as `{"delta": {…}}`, so a
/// delta cannot be taken for a snapshot, nor a snapshot for a delta: each lacks the other's keys.
public struct NodeBundleDelta: Sendable, Hashable, Codable {
    public var region: RegionID
    /// The version the delta applies to.
    public var baseVersion: Int
    /// The version the node holds once the delta is applied.
    public var version: Int
    /// Customers added or changed, whole, sorted by id.
    public var customers: [NodeBundle.Customer]
    public var removedCustomers: [String]
    /// Domains pinned elsewhere added or changed, sorted by domain.
    public var elsewhere: [NodeBundle.PinnedElsewhere]
    public var removedElsewhere: [String]
    public var policy: NodeBundle.Policy?
    public var egress: EgressPolicy?
    public var subprocessors: [NodeBundle.SubProcessorEntry]?
    /// The content key of the changed customers' sealed secrets, sealed to the region (``BundleSealing``).
    public var sealedKey: String?

    public init(
        region: RegionID, baseVersion: Int, version: Int, customers: [NodeBundle.Customer] = [], removedCustomers: [String] = [],
        elsewhere: [NodeBundle.PinnedElsewhere] = [], removedElsewhere: [String] = [], policy: NodeBundle.Policy? = nil,
        egress: EgressPolicy? = nil, subprocessors: [NodeBundle.SubProcessorEntry]? = nil, sealedKey: String? = nil
    ) {
        self.region = region
        self.baseVersion = baseVersion
        self.version = version
        self.customers = customers
        self.removedCustomers = removedCustomers
        self.elsewhere = elsewhere
        self.removedElsewhere = removedElsewhere
        self.policy = policy
        self.egress = egress
        self.subprocessors = subprocessors
        self.sealedKey = sealedKey
    }

    enum CodingKeys: String, CodingKey {
        case region, version, customers, elsewhere, policy, egress, subprocessors
        case baseVersion = "base_version", removedCustomers = "removed_customers", removedElsewhere = "removed_elsewhere"
        case sealedKey = "sealed_key"
    }

    /// The changes between two bundles of one region, `old` the node's and `new` the one to reach; secrets as they
    /// are in `new` (the caller seals them after, ``sealingSecrets(with:)``). Both bundles' customers and
    /// `elsewhere` must be sorted (the compiler sorts them), so that one pass over each finds the changes.
    public static func between(_ old: NodeBundle, _ new: NodeBundle) -> NodeBundleDelta {
        var delta = NodeBundleDelta(region: new.region, baseVersion: old.version, version: new.version)
        merge(old.customers, new.customers, key: \.id, changed: { delta.customers.append($0) }, removed: { delta.removedCustomers.append($0) })
        merge(old.elsewhere, new.elsewhere, key: \.domain, changed: { delta.elsewhere.append($0) }, removed: { delta.removedElsewhere.append($0) })
        if old.policy != new.policy { delta.policy = new.policy }
        if old.egress != new.egress { delta.egress = new.egress }
        if old.subprocessors != new.subprocessors { delta.subprocessors = new.subprocessors }
        return delta
    }

    /// Walks two lists sorted by `key`, reporting what `new` adds or changes and the keys it drops.
    private static func merge<T: Equatable>(
        _ old: [T], _ new: [T], key: (T) -> String, changed: (T) -> Void, removed: (String) -> Void
    ) {
        var i = old.startIndex
        var j = new.startIndex
        while i < old.endIndex || j < new.endIndex {
            if j == new.endIndex || (i < old.endIndex && key(old[i]) < key(new[j])) {
                removed(key(old[i]))
                i += 1
            } else if i == old.endIndex || key(new[j]) < key(old[i]) {
                changed(new[j])
                j += 1
            } else {
                if old[i] != new[j] { changed(new[j]) }
                i += 1
                j += 1
            }
        }
    }

    /// Nothing but the version changes.
    public var isEmpty: Bool {
        customers.isEmpty && removedCustomers.isEmpty && elsewhere.isEmpty && removedElsewhere.isEmpty && policy == nil && egress == nil
            && subprocessors == nil
    }

    /// The canonical JSON: `{"delta": {…}}` with the keys sorted and absent fields left out, as a bundle's.
    public func canonicalJSON() -> [UInt8] {
        var json = JSONWriter(capacity: 512 * customers.count + 64 * elsewhere.count + 1024)
        json.beginObject()
        json.key("delta")
        json.beginObject()
        json.field("base_version", baseVersion)
        json.key("customers")
        json.beginArray()
        for customer in customers { NodeBundle.write(customer, into: &json) }
        json.endArray()
        if let egress { NodeBundle.write(egress, into: &json) }
        json.key("elsewhere")
        json.beginArray()
        for entry in elsewhere { NodeBundle.write(entry, into: &json) }
        json.endArray()
        if let policy { NodeBundle.write(policy, into: &json) }
        json.field("region", region.rawValue)
        json.field("removed_customers", strings: removedCustomers)
        json.field("removed_elsewhere", strings: removedElsewhere)
        if let sealedKey { json.field("sealed_key", sealedKey) }
        if let subprocessors { NodeBundle.write(subprocessors, into: &json) }
        json.field("version", version)
        json.endObject()
        json.endObject()
        return json.bytes
    }

    private struct Wrapped: Decodable {
        var delta: NodeBundleDelta
    }

    /// Decodes a delta's signed bytes; a bundle for another region is refused here, the rest when applied.
    public static func decode(_ data: Data, expectedRegion: RegionID) throws(CoreError) -> NodeBundleDelta {
        let delta: NodeBundleDelta
        do {
            delta = try JSONDecoder().decode(Wrapped.self, from: data).delta
        } catch {
            throw CoreError(.bundleMalformed, "not a config delta: \(error)")
        }
        guard delta.region == expectedRegion else {
            throw CoreError(.bundleForAnotherRegion, "the delta is for region \(delta.region), this node serves \(expectedRegion)")
        }
        guard delta.version > delta.baseVersion, delta.baseVersion >= 0 else {
            throw CoreError(.bundleInvalid, "the delta goes from version \(delta.baseVersion) to \(delta.version)")
        }
        return delta
    }

    /// The delta with each changed customer's secrets sealed by `sealer`, and its sealed key.
    public func sealingSecrets(with sealer: BundleSealing.Sealer) throws -> NodeBundleDelta {
        var delta = self
        delta.customers = try customers.map { try sealer.sealing($0) }
        delta.sealedKey = sealer.sealedKey
        return delta
    }

    /// The delta with its sealed secrets opened with the region key and each changed customer checked (the same
    /// rules as ``NodeBundle/openingSecrets(with:)``).
    public func openingSecrets(with regionKey: Curve25519.KeyAgreement.PrivateKey?) throws(CoreError) -> NodeBundleDelta {
        var delta = self
        guard let sealedKey else {
            if let sealed = customers.first(where: { $0.webhook.secretSealed != nil }) {
                throw CoreError(.bundleMalformed, "customer \(sealed.id) has a sealed secret, but the delta has no sealed_key")
            }
            return delta
        }
        guard let regionKey else {
            throw CoreError(.bundleSealedToAnotherKey, "the delta's secrets are sealed to the region, and this node has no region key")
        }
        let opener = try BundleSealing.Opener(regionKey: regionKey, region: region, sealedKey: sealedKey)
        for index in delta.customers.indices { delta.customers[index] = try opener.opening(delta.customers[index]) }
        delta.sealedKey = nil
        return delta
    }
}

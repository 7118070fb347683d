import Crypto
import Foundation
import MeridianCore

/// Compiles the coordinator's state into one node bundle per region (DESIGN.md, "Config push").
///
/// A region's bundle holds every active customer that may be processed there (pinned to it, or unpinned) with
/// its domains, webhook (secret opened from the secret box) and redactions; for customers pinned elsewhere
/// only their domains and that region's MX host; and the region's policy. Output is sorted, so the same
/// state always gives the same bytes. ``ConfigPublisher`` numbers, signs, stores and pushes what it compiles.
public struct ConfigCompiler: Sendable {
    public let catalog: RegionCatalog
    public let secrets: SecretBox
    /// The deployment's egress policy, carried in every bundle so that nodes apply the rules the API did.
    public let egress: EgressPolicy

    public init(catalog: RegionCatalog, secrets: SecretBox, egress: EgressPolicy = .production) {
        self.catalog = catalog
        self.secrets = secrets
        self.egress = egress
    }

    /// The sub-processor registry and the standing objections, as the compiler enforces them at one moment.
    public struct Registry: Sendable {
        public var subprocessors: [SubProcessor]
        /// Sub-processor ids each customer objects to.
        public var objections: [String: Set<String>]
        public var at: Date

        public init(subprocessors: [SubProcessor] = [], objections: [String: Set<String>] = [:], at: Date = Date()) {
            self.subprocessors = subprocessors
            self.objections = objections
            self.at = at
        }
    }

    public func compile(_ customers: [CustomerRecord], registry: Registry = Registry(), version: Int) throws -> [NodeBundle] {
        var sorted = customers.filter { $0.status == .active }
        if !zip(sorted, sorted.dropFirst()).allSatisfy({ $0.id < $1.id }) { sorted.sort { $0.id < $1.id } }
        let active = sorted
        // Each customer's entry once for every region, opening its secret and checking its fields, on every core.
        let chunks = stride(from: 0, to: active.count, by: 4096).map { Array(active[$0..<Swift.min($0 + 4096, active.count)]) }
        let secrets = self.secrets
        let entries = try chunks.parallelMap { chunk in try chunk.map { try Self.entry($0, secrets: secrets) } }.flatMap { $0 }
        // Ids and domains are unique across all customers (the database's keys say so too), hence within every
        // bundle: checked once here, so that each region's bundle needs no check that spans customers.
        var owners: [String: String] = [:]
        owners.reserveCapacity(entries.count * 2)
        for entry in entries {
            guard owners.updateValue(entry.id, forKey: "id:" + entry.id) == nil else {
                throw CoordinatorError(.configNotCompiled, "customer \(entry.id) appears twice")
            }
            for domain in entry.domains {
                if let other = owners.updateValue(entry.id, forKey: domain.lowercased()), other != entry.id {
                    throw CoordinatorError(.configNotCompiled, "\"\(domain)\" belongs to both \(other) and \(entry.id)")
                }
            }
        }
        // Every pinned domain once, sorted once; each region's `elsewhere` is those pinned to other regions.
        var pinned: [NodeBundle.PinnedElsewhere] = []
        for entry in entries {
            guard let pin = entry.region else { continue }
            guard let home = catalog.region(pin) else {
                throw CoordinatorError(.configNotCompiled, "customer \(entry.id) is pinned to \(pin), which is not in Regions/")
            }
            for domain in entry.domains { pinned.append(.init(domain: domain, region: pin, mxHost: home.mxHost)) }
        }
        pinned.sort { $0.domain < $1.domain }
        let elsewhereSorted = pinned
        return try catalog.regions.parallelMap { region in
            // A sub-processor's steps run in a region only once it is in force there; an objection removes its
            // optional steps from that customer's entry.
            let serving = registry.subprocessors.filter { $0.serves(region.id, at: registry.at) }.sorted { $0.id < $1.id }
            let steps = SubProcessor.allowedOptionalSteps(serving, objectedTo: [], in: region.id, at: registry.at)
            var included = entries.filter { $0.region == nil || $0.region == region.id }
            if !steps.isEmpty {
                for index in included.indices {
                    if let objections = registry.objections[included[index].id] {
                        included[index].steps = SubProcessor.allowedOptionalSteps(serving, objectedTo: objections, in: region.id, at: registry.at)
                    } else {
                        included[index].steps = steps
                    }
                }
            }
            let elsewhere = elsewhereSorted.filter { $0.region != region.id }
            return NodeBundle(
                version: version, region: region.id, customers: included, elsewhere: elsewhere, policy: NodeBundle.Policy(region),
                subprocessors: serving.map { .init(id: $0.id, name: $0.name, steps: $0.steps.sorted(), egressHosts: $0.egressHosts.sorted()) },
                egress: egress)
        }
    }

    /// A customer as every bundle holds it, checked once (``NodeBundle/Customer/validate()``).
    static func entry(_ customer: CustomerRecord, secrets: SecretBox) throws -> NodeBundle.Customer {
        let secret: String
        let previous: String?
        let credentials: String?
        do {
            secret = try secrets.open(customer.webhookSecretSealed)
            previous = try customer.previousWebhookSecretSealed.map(secrets.open)
            credentials = try customer.webhookCredentialsSealed.map(secrets.open)
        } catch {
            throw CoordinatorError(.configNotCompiled, "customer \(customer.id): its webhook secret or credentials do not open with the master key")
        }
        let entry = NodeBundle.Customer(
            // Only proved domains are routed: a domain added but not yet proved (or suspended) is in no bundle.
            id: customer.id, region: customer.region, domains: customer.domains.filter(\.isRouted).map(\.domain).sorted(),
            webhook: .init(
                url: customer.webhookURL, mode: customer.webhookMode, secret: secret, previousSecret: previous,
                format: customer.postFormat == .json ? nil : customer.postFormat, credentials: credentials, eventsURL: customer.eventsURL),
            metadataRedactions: customer.metadataRedactions.sorted { $0.rawValue < $1.rawValue },
            filtering: customer.filtering == .standard ? nil : customer.filtering)
        do {
            try entry.validate()
        } catch {
            throw CoordinatorError(.configNotCompiled, "a bundle would not validate: \(error)")
        }
        return entry
    }

    /// Signs each bundle (canonical JSON, Ed25519), one region per core; returns the `SignedBundle` JSON of each.
    /// With `regionKeys`, each bundle's webhook secrets are sealed to its region first (``BundleSealing``).
    public static func sign(_ bundles: [NodeBundle], with key: Curve25519.Signing.PrivateKey, sealingTo regionKeys: RegionKeys? = nil) throws -> [Data] {
        let sent = try regionKeys.map { try seal(bundles, to: $0) } ?? bundles
        return try sent.parallelMap { Data(try SignedBundle.signedJSON($0, with: key)) }
    }

    /// The bundles with their secrets sealed, a fresh content key each, in chunks of customers over every core
    /// (sealing per region would leave a core idle with three regions on two).
    static func seal(_ bundles: [NodeBundle], to regionKeys: RegionKeys) throws -> [NodeBundle] {
        let sealers = try bundles.map { try regionKeys.sealer(for: $0.region) }
        let chunk = 4096
        let work = bundles.indices.flatMap { index in stride(from: 0, to: bundles[index].customers.count, by: chunk).map { (index, $0) } }
        let sealed = try work.parallelMap { index, start in
            try bundles[index].customers[start..<Swift.min(start + chunk, bundles[index].customers.count)].map { try sealers[index].seal($0) }
        }
        // The chunks are in order: each bundle's are contiguous, so joining them gives its secrets in order.
        let perBundle = Dictionary(grouping: zip(work, sealed), by: { $0.0.0 }).mapValues { $0.flatMap(\.1) }
        return bundles.indices.map { index in
            bundles[index].replacingSecrets(with: perBundle[index] ?? [], sealedKey: sealers[index].sealedKey)
        }
    }
}

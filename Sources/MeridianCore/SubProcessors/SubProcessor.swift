import Foundation

/// One entry of the sub-processor registry, as published and as compiled into bundles.
///
/// An entry takes effect at `effectiveFrom`, which for a new entry lies at least the notice period after it was
/// announced (GDPR Art. 28(2)), and stops at `effectiveUntil` when it is retired.
public struct SubProcessor: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var legalEntity: String
    public var purpose: String
    public var dataCategories: [String]
    /// The Meridian regions whose data it may process.
    public var regions: [RegionID]
    /// Where it processes, in words ("USA / EU (data hosted in AWS)").
    public var locations: [String]
    /// The legal basis of transfers outside the region, for example "EU SCCs (2021/914)".
    public var transferMechanism: String
    public var dpaInPlace: Bool
    /// The hosts a node may send data to when it runs one of `steps` with this sub-processor.
    public var egressHosts: [String]
    public var steps: [ProcessingStep]
    public var announcedAt: Date
    public var effectiveFrom: Date
    public var effectiveUntil: Date?
    /// Seeded by `meridian up` from the source policies' tables, not a real contract.
    public var demo: Bool
    /// Grows with every change of the entry.
    public var version: Int

    public init(
        id: String, name: String, legalEntity: String, purpose: String, dataCategories: [String], regions: [RegionID], locations: [String],
        transferMechanism: String, dpaInPlace: Bool, egressHosts: [String], steps: [ProcessingStep], announcedAt: Date,
        effectiveFrom: Date, effectiveUntil: Date? = nil, demo: Bool = false, version: Int = 1
    ) {
        self.id = id
        self.name = name
        self.legalEntity = legalEntity
        self.purpose = purpose
        self.dataCategories = dataCategories
        self.regions = regions
        self.locations = locations
        self.transferMechanism = transferMechanism
        self.dpaInPlace = dpaInPlace
        self.egressHosts = egressHosts
        self.steps = steps
        self.announcedAt = announcedAt
        self.effectiveFrom = effectiveFrom
        self.effectiveUntil = effectiveUntil
        self.demo = demo
        self.version = version
    }

    enum CodingKeys: String, CodingKey {
        case id, name, purpose, regions, locations, steps, demo, version
        case legalEntity = "legal_entity", dataCategories = "data_categories", transferMechanism = "transfer_mechanism"
        case dpaInPlace = "dpa_in_place", egressHosts = "egress_hosts", announcedAt = "announced_at"
        case effectiveFrom = "effective_from", effectiveUntil = "effective_until"
    }

    public enum State: String, Sendable {
        /// Announced; the notice period runs and customers may object.
        case announced
        case inForce = "in_force"
        case retired
    }

    public func state(at date: Date) -> State {
        if let until = effectiveUntil, until <= date { return .retired }
        return effectiveFrom <= date ? .inForce : .announced
    }

    /// In force at `date` and covering `region`: a node may run this entry's steps there.
    public func serves(_ region: RegionID, at date: Date) -> Bool {
        state(at: date) == .inForce && regions.contains(region)
    }
}

extension SubProcessor {
    /// The optional steps a node may run for a customer in `region` at `date`: every in-force sub-processor that
    /// serves the step there must be one the customer has not objected to, and there must be at least one.
    public static func allowedOptionalSteps(
        _ registry: [SubProcessor], objectedTo objections: Set<String>, in region: RegionID, at date: Date
    ) -> [ProcessingStep] {
        ProcessingStep.allCases.filter { step in
            guard step.isOptional else { return false }
            let serving = registry.filter { $0.steps.contains(step) && $0.serves(region, at: date) }
            return !serving.isEmpty && serving.allSatisfy { !objections.contains($0.id) }
        }
    }

    /// The next moment after `date` at which some entry starts or stops, so that the coordinator can publish a
    /// new config version exactly when a notice period ends.
    public static func nextChange(_ registry: [SubProcessor], after date: Date) -> Date? {
        registry.flatMap { [$0.effectiveFrom, $0.effectiveUntil].compactMap { $0 } }.filter { $0 > date }.min()
    }
}

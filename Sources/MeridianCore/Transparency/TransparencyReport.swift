import Foundation

/// A half-year's transparency report: how many government and law-enforcement requests arrived, by kind,
/// country and outcome, and how many accounts they concerned. Counted from the legal-request log; a closed
/// period's report is frozen (stored as these exact bytes) and signed.
public struct TransparencyReport: Sendable, Hashable, Codable {
    public struct Count: Sendable, Hashable, Codable {
        public var key: String
        public var count: Int
    }

    public var period: String
    public var from: String
    public var through: String
    public var requests: Int
    public var accountsAffected: Int
    public var byKind: [Count]
    public var byCountry: [Count]
    public var byOutcome: [Count]
    public var generatedAt: Date

    enum CodingKeys: String, CodingKey {
        case period, from, through, requests
        case accountsAffected = "accounts_affected", byKind = "by_kind", byCountry = "by_country", byOutcome = "by_outcome"
        case generatedAt = "generated_at"
    }

    /// Counts `requests` (kind, country, outcome, accounts affected) received within `period`.
    public init(period: ReportingPeriod, requests: [LegalRequest], generatedAt: Date) {
        let inPeriod = requests.filter { $0.receivedOn >= period.first && $0.receivedOn <= period.last }
        func counts(_ keys: [String]) -> [Count] {
            Dictionary(grouping: keys, by: { $0 }).map { Count(key: $0.key, count: $0.value.count) }
                .sorted { ($1.count, $0.key) < ($0.count, $1.key) }
        }
        self.period = period.description
        self.from = period.first.description
        self.through = period.last.description
        self.requests = inPeriod.count
        self.accountsAffected = inPeriod.reduce(0) { $0 + $1.accountsAffected }
        self.byKind = counts(inPeriod.map(\.kind.rawValue))
        self.byCountry = counts(inPeriod.map(\.country))
        self.byOutcome = counts(inPeriod.map(\.outcome.rawValue))
        self.generatedAt = Date(timeIntervalSince1970: generatedAt.timeIntervalSince1970.rounded(.down))
    }

    /// The bytes that are stored and signed: sorted keys, ISO 8601 seconds.
    public func canonicalJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }

    public static func decode(_ data: Data) throws -> TransparencyReport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(TransparencyReport.self, from: data)
    }
}

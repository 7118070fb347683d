import Crypto
import Foundation
import MeridianCore

/// The warrant canary and the transparency reports: both are made from the legal-request log and signed with
/// the publication key, and neither may say anything the log contradicts.
public struct Publications: Sendable {
    public let canaries: CanaryRepository
    public let reports: TransparencyReportRepository
    let legalRequests: LegalRequestRepository
    let service: ServiceProfile
    /// Signs canaries and frozen reports; its public half is `/.well-known/canary.pub`.
    public let key: Curve25519.Signing.PrivateKey?
    let now: @Sendable () -> Date

    public init(
        store: any SQLStore, legalRequests: LegalRequestRepository, service: ServiceProfile, key: Curve25519.Signing.PrivateKey?,
        now: @escaping @Sendable () -> Date
    ) {
        self.canaries = CanaryRepository(store: store)
        self.reports = TransparencyReportRepository(store: store)
        self.legalRequests = legalRequests
        self.service = service
        self.key = key
        self.now = now
    }

    public enum RefusalReason: Error, Sendable {
        /// The log holds events that the statements would deny.
        case contradicted([CanaryContradiction])
        case noKey
    }

    public static let defaultValidity = 30

    /// Issues the next canary. Without `asserting`, it states what the previous canary stated (all codes the first
    /// time): a code is only ever dropped on purpose, and then the public canary shows it dropped.
    public func issueCanary(asserting codes: [CanaryCode]?, validForDays days: Int, by actor: AuditActor) async throws -> SignedCanary {
        guard let key else { throw RefusalReason.noKey }
        let previous = try await canaries.latest()
        let asserted = codes ?? previous?.statement.asserted ?? CanaryCode.allCases
        let issued = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        let today = CalendarDay(containing: issued)
        let log = try await legalRequests.received(through: today)
        let contradictions = CanaryContradiction.find(asserting: asserted, log: log, on: today)
        guard contradictions.isEmpty else { throw RefusalReason.contradicted(contradictions) }
        let statement = CanaryStatement(
            sequence: (previous?.statement.sequence ?? 0) + 1, issuer: service.controller.name, domain: service.dnsZone, issuedAt: issued,
            expiresAt: issued.addingTimeInterval(Double(days) * 86_400), asserted: asserted)
        let text = statement.text
        let canary = SignedCanary(statement: statement, text: text, signature: try key.signature(for: Data(text.utf8)), issuedBy: actor.id)
        try await canaries.insert(canary, by: actor)
        return canary
    }

    /// A period's report: frozen if it was, otherwise counted from the log now.
    public struct PeriodReport: Sendable {
        public var report: TransparencyReport
        public var frozen: FrozenReport?
        public var closed: Bool
    }

    /// Every half-year from the first with a legal request (or the current one) to the current one, newest first.
    public func allReports() async throws -> [PeriodReport] {
        let today = CalendarDay(containing: now())
        let log = try await legalRequests.received()
        let frozen = Dictionary(try await reports.all().map { ($0.report.period, $0) }, uniquingKeysWith: { a, _ in a })
        let current = ReportingPeriod(containing: today)
        var earliest = log.map { ReportingPeriod(containing: $0.receivedOn) }.min() ?? current
        earliest = min(earliest, frozen.keys.compactMap(ReportingPeriod.init).min() ?? current)
        var periods: [ReportingPeriod] = []
        var period = current
        while period >= earliest {
            periods.append(period)
            period = period.previous
        }
        return periods.map { period in
            if let frozen = frozen[period.description] { return PeriodReport(report: frozen.report, frozen: frozen, closed: true) }
            return PeriodReport(report: TransparencyReport(period: period, requests: log, generatedAt: now()), frozen: nil, closed: period.isClosed(on: today))
        }
    }

    public enum FreezeRefusal: Error, Sendable {
        case open(ReportingPeriod)
        case noKey
    }

    /// Freezes a closed period's report: counts it, stores its bytes and signs them.
    public func freeze(_ period: ReportingPeriod, by actor: AuditActor) async throws -> FrozenReport {
        guard let key else { throw FreezeRefusal.noKey }
        let today = CalendarDay(containing: now())
        guard period.isClosed(on: today) else { throw FreezeRefusal.open(period) }
        let log = try await legalRequests.received(from: period.first, through: period.last)
        let report = TransparencyReport(period: period, requests: log, generatedAt: now())
        let json = try report.canonicalJSON()
        let frozen = FrozenReport(
            report: report, json: String(decoding: json, as: UTF8.self), signature: try key.signature(for: json), frozenAt: now(), frozenBy: actor.id)
        try await reports.freeze(frozen, by: actor)
        return frozen
    }
}

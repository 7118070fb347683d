import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer

extension AdminAPI {
    // MARK: - Canary

    func getCanary(_ input: Operations.GetCanary.Input) async throws -> Operations.GetCanary.Output {
        let date = now()
        let current = try await publications.canaries.latest()
        let today = CalendarDay(containing: date)
        let log = try await legalRequests.received(through: today)
        let contradicted = CanaryContradiction.find(asserting: CanaryCode.allCases, log: log, on: today)
        return .ok(.init(body: .json(.init(current: current.map { .init($0, at: date) }, contradicted: contradicted.map(Components.Schemas.CanaryContradiction.init)))))
    }

    func issueCanary(_ input: Operations.IssueCanary.Input) async throws -> Operations.IssueCanary.Output {
        var codes: [CanaryCode]?
        var days = Publications.defaultValidity
        if case .json(let body) = input.body {
            codes = body.codes?.compactMap { CanaryCode(rawValue: $0.rawValue) }
            if let valid = body.validDays {
                guard (1...366).contains(valid) else { throw Problem.invalid("valid_days", "valid_days must be from 1 to 366, not \(valid)") }
                days = valid
            }
        }
        do {
            let canary = try await publications.issueCanary(asserting: codes, validForDays: days, by: try caller.actor)
            return .created(.init(body: .json(.init(canary, at: now()))))
        } catch Publications.RefusalReason.contradicted(let found) {
            let codes = Set(found.map(\.code.rawValue)).sorted().joined(separator: ", ")
            throw Problem.conflict(
                "refusing to sign a canary that asserts \(codes): the legal-request log holds \(found.map(\.description).joined(separator: "; ")). Issue it without \(codes).",
                field: "codes")
        } catch Publications.RefusalReason.noKey {
            throw Problem.conflict("this coordinator has no publication key (publication-signing.key in its data directory)")
        }
    }

    // MARK: - Transparency reports

    func listTransparencyReports(_ input: Operations.ListTransparencyReports.Input) async throws -> Operations.ListTransparencyReports.Output {
        let items = try await publications.allReports().map(Components.Schemas.TransparencyReport.init)
        return .ok(.init(body: .json(.init(items: items))))
    }

    func freezeTransparencyReport(_ input: Operations.FreezeTransparencyReport.Input) async throws -> Operations.FreezeTransparencyReport.Output {
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "send application/json") }
        guard let period = ReportingPeriod(body.period) else {
            throw Problem.invalid("period", "period \"\(body.period)\" must be a half-year such as 2026-H1 or 2026-H2")
        }
        do {
            let frozen = try await publications.freeze(period, by: try caller.actor)
            return .created(.init(body: .json(.init(.init(report: frozen.report, frozen: frozen, closed: true)))))
        } catch Publications.FreezeRefusal.open(let period) {
            throw Problem.invalid("period", "\(period) runs until \(period.last); a report is frozen once its period is over")
        } catch Publications.FreezeRefusal.noKey {
            throw Problem.conflict("this coordinator has no publication key (publication-signing.key in its data directory)")
        }
    }
}

// MARK: - Wire conversions

extension Components.Schemas.Canary {
    init(_ canary: SignedCanary, at date: Date) {
        self.init(
            sequence: canary.statement.sequence, issuedAt: canary.statement.issuedAt, expiresAt: canary.statement.expiresAt,
            expired: canary.statement.isExpired(at: date), asserted: canary.statement.asserted.compactMap { .init(rawValue: $0.rawValue) },
            withheld: canary.statement.withheld.compactMap { .init(rawValue: $0.rawValue) }, text: canary.text,
            signature: canary.signature.base64EncodedString())
    }
}

extension Components.Schemas.CanaryContradiction {
    init(_ found: MeridianCore.CanaryContradiction) {
        self.init(code: .init(rawValue: found.code.rawValue) ?? .war, requestId: found.requestID, reason: found.reason)
    }
}

extension Components.Schemas.TransparencyReport {
    init(_ entry: Publications.PeriodReport) {
        let report = entry.report
        let counts = { (rows: [MeridianCore.TransparencyReport.Count]) in rows.map { Components.Schemas.CountRow(key: $0.key, count: $0.count) } }
        self.init(
            period: report.period, from: report.from, through: report.through, requests: report.requests, accountsAffected: report.accountsAffected,
            byKind: counts(report.byKind), byCountry: counts(report.byCountry), byOutcome: counts(report.byOutcome), generatedAt: report.generatedAt,
            status: entry.frozen != nil ? .frozen : entry.closed ? .closed : .open, reportJson: entry.frozen?.json,
            signature: entry.frozen?.signature.base64EncodedString())
    }
}

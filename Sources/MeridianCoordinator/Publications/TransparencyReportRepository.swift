import Crypto
import Foundation
import MeridianCore
import SQLKit

public struct TransparencyReportRepository: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func all() async throws -> [FrozenReport] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM transparency_reports ORDER BY period DESC").all().map(Self.decode)
        }
    }

    public func freeze(_ frozen: FrozenReport, by actor: AuditActor) async throws {
        try await store.transaction { db in
            guard try await db.raw("SELECT period FROM transparency_reports WHERE period = \(bind: frozen.report.period)").first() == nil else {
                throw RepositoryError.conflict("the \(frozen.report.period) report is already frozen")
            }
            try await db.raw("""
                INSERT INTO transparency_reports (period, report, signature, frozen_at, frozen_by)
                VALUES (\(bind: frozen.report.period), \(bind: frozen.json), \(bind: frozen.signature.base64EncodedString()),
                    \(bind: Timestamp.millis(frozen.frozenAt)), \(bind: frozen.frozenBy))
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("transparency_report.freeze", target: frozen.report.period, detail: [
                    "requests": "\(frozen.report.requests)", "sha256": SHA256.hash(data: Data(frozen.json.utf8)).hexString,
                ]), by: actor, at: frozen.frozenAt, on: db)
        }
    }

    static func decode(_ row: any SQLRow) throws -> FrozenReport {
        let json = try row.decode(column: "report", as: String.self)
        guard let signature = Data(base64Encoded: try row.decode(column: "signature", as: String.self)) else {
            throw RepositoryError.conflict("a transparency report row does not decode")
        }
        return FrozenReport(
            report: try TransparencyReport.decode(Data(json.utf8)), json: json, signature: signature,
            frozenAt: Timestamp.date(try row.decode(column: "frozen_at", as: Int64.self)), frozenBy: try row.decode(column: "frozen_by", as: String.self))
    }
}

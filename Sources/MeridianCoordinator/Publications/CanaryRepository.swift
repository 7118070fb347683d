import Crypto
import Foundation
import MeridianCore
import SQLKit

/// A canary as issued: its statement, the exact signed text and the raw 64-byte Ed25519 signature.
public struct SignedCanary: Sendable, Hashable {
    public var statement: CanaryStatement
    public var text: String
    public var signature: Data
    public var issuedBy: String
}

/// Issued canaries, one row per sequence number; the newest is the one published.
public struct CanaryRepository: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func latest() async throws -> SignedCanary? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM canaries ORDER BY sequence DESC LIMIT 1").first().map(Self.decode)
        }
    }

    /// Stores the canary under its sequence number, which must be the next one.
    public func insert(_ canary: SignedCanary, by actor: AuditActor) async throws {
        try await store.transaction { db in
            let newest = try await db.raw("SELECT MAX(sequence) AS newest FROM canaries").first()?.decode(column: "newest", as: Int64?.self) ?? 0
            guard canary.statement.sequence == Int(newest) + 1 else {
                throw RepositoryError.conflict("another canary was issued at the same time; issue again")
            }
            try await db.raw("""
                INSERT INTO canaries (sequence, statement, signature, issued_at, expires_at, issued_by)
                VALUES (\(bind: Int64(canary.statement.sequence)), \(bind: canary.text), \(bind: canary.signature.base64EncodedString()),
                    \(bind: Timestamp.millis(canary.statement.issuedAt)), \(bind: Timestamp.millis(canary.statement.expiresAt)), \(bind: canary.issuedBy))
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("canary.issue", target: "canary-\(canary.statement.sequence)", detail: [
                    "asserted": canary.statement.asserted.map(\.rawValue).joined(separator: ","),
                    "withheld": canary.statement.withheld.map(\.rawValue).joined(separator: ","),
                    "expires": ISOTime.string(canary.statement.expiresAt),
                ]), by: actor, at: canary.statement.issuedAt, on: db)
        }
    }

    static func decode(_ row: any SQLRow) throws -> SignedCanary {
        let text = try row.decode(column: "statement", as: String.self)
        guard let statement = CanaryStatement(text: text), let signature = Data(base64Encoded: try row.decode(column: "signature", as: String.self)) else {
            throw RepositoryError.conflict("a canary row does not decode")
        }
        return SignedCanary(statement: statement, text: text, signature: signature, issuedBy: try row.decode(column: "issued_by", as: String.self))
    }
}

/// Frozen transparency reports: the report's exact JSON bytes and their Ed25519 signature.
public struct FrozenReport: Sendable, Hashable {
    public var report: TransparencyReport
    public var json: String
    public var signature: Data
    public var frozenAt: Date
    public var frozenBy: String
}

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

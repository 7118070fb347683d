import Crypto
import Foundation
import MeridianCore
import SQLKit

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

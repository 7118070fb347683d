import Foundation
import MeridianCore
import SQLKit

public struct DPARepository: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func record(_ dpa: DPARecord, by actor: AuditActor) async throws {
        let annex = String(decoding: try SubProcessorRepository.encoder.encode(dpa.annex), as: UTF8.self)
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO dpas (id, customer_id, dpa_version, signed_on, signatory, document_sha256, annex, created_at, created_by)
                VALUES (\(bind: dpa.id), \(bind: dpa.customerID), \(bind: dpa.version), \(bind: dpa.signedOn.description), \(bind: dpa.signatory),
                    \(bind: dpa.documentSHA256), \(bind: annex), \(bind: Timestamp.millis(dpa.createdAt)), \(bind: dpa.createdBy))
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("dpa.record", target: dpa.customerID, detail: [
                    "dpa": dpa.id, "version": dpa.version, "signed_on": dpa.signedOn.description, "document_sha256": dpa.documentSHA256,
                    "annex": dpa.annex.map(\.id).joined(separator: ","),
                ]), by: actor, at: dpa.createdAt, on: db)
        }
    }

    /// The customer's DPAs, newest first; the first is the one in force.
    public func list(customerID: String) async throws -> [DPARecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM dpas WHERE customer_id = \(bind: customerID) ORDER BY created_at DESC, id DESC").all().map(Self.decode)
        }
    }

    static func decode(_ row: any SQLRow) throws -> DPARecord {
        guard let signed = CalendarDay(try row.decode(column: "signed_on", as: String.self)) else {
            throw RepositoryError.conflict("a DPA row does not decode")
        }
        return DPARecord(
            id: try row.decode(column: "id", as: String.self), customerID: try row.decode(column: "customer_id", as: String.self),
            version: try row.decode(column: "dpa_version", as: String.self), signedOn: signed,
            signatory: try row.decode(column: "signatory", as: String.self), documentSHA256: try row.decode(column: "document_sha256", as: String.self),
            annex: try SubProcessorRepository.decoder.decode([SubProcessor].self, from: Data(try row.decode(column: "annex", as: String.self).utf8)),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)), createdBy: try row.decode(column: "created_by", as: String.self))
    }
}

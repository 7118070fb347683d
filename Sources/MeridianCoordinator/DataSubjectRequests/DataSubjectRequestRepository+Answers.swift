import Foundation
import MeridianCore
import SQLKit

/// What one place (a node, or the coordinator) answered to a ticket's directive, or why it has not yet.
public struct DirectiveAnswer: Sendable, Hashable {
    public enum Status: String, Sendable { case answered, failed, waiting }
    /// The node's id, or `coordinator`; nil for a region with no node known yet.
    public var place: String?
    public var region: String
    public var status: Status
    public var attempts: Int
    public var lastError: String?
    public var answeredAt: Date?
    public var classes: [DataClassCount]
    /// Who signed the receipt: the node certificate's identity URI and serial (nil for the coordinator's own part).
    public var signedBy: String?
    /// The receipt as the node signed it, kept as evidence.
    public var signed: NodeSigned?

    public static let coordinator = "coordinator"
}

extension DataSubjectRequestRepository {
    /// The tickets whose directives are being carried out: access, portability and erasure in progress.
    public func fanningOut() async throws -> [DataSubjectRequestRecord] {
        let types = DataSubjectRequestType.allCases.filter(\.fansOut).map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try await store.withSession { db in
            try await db.raw("SELECT * FROM gdpr_requests WHERE state = 'in_progress' AND type IN (\(unsafeRaw: types)) ORDER BY received_at, id")
                .all().map(Self.decode)
        }
    }

    /// Claims the next ticket being carried out, other than those in `skipping`, for `replica` (``WorkClaim``).
    func claimFanningOut(at date: Date, by replica: String, skipping: Set<String>) async throws -> DataSubjectRequestRecord? {
        let types = DataSubjectRequestType.allCases.filter(\.fansOut).map { "'\($0.rawValue)'" }.joined(separator: ", ")
        let skipped = [""] + skipping.sorted()  // never empty: `IN ()` is not SQL
        let kind = store.kind
        return try await store.withSession { db in
            try await WorkClaim.claim(
                "gdpr_requests", where: "state = 'in_progress' AND type IN (\(unsafeRaw: types)) AND id NOT IN (\(binds: skipped))", order: "received_at, id", limit: 1,
                by: replica, at: date, kind: kind, on: db
            ).first.map(Self.decode)
        }
    }

    /// Gives a claimed ticket back once this pass is done with it.
    func release(_ id: String) async throws {
        try await store.withSession { db in try await WorkClaim.release("gdpr_requests", id: id, on: db) }
    }

    /// Every answer and failure so far, by place.
    public func answers(of id: String) async throws -> [DirectiveAnswer] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM gdpr_answers WHERE request_id = \(bind: id) ORDER BY region, place").all().map { row in
                let classes = try row.decode(column: "classes", as: String?.self).map { text in
                    try JSONDecoder().decode([DataClassCount].self, from: Data(text.utf8))
                }
                return DirectiveAnswer(
                    place: try row.decode(column: "place", as: String.self), region: try row.decode(column: "region", as: String.self),
                    status: DirectiveAnswer.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .failed,
                    attempts: Int(try row.decode(column: "attempts", as: Int64.self)), lastError: try row.decode(column: "last_error", as: String?.self),
                    answeredAt: try row.decode(column: "answered_at", as: Int64?.self).map(Timestamp.date), classes: classes ?? [],
                    signedBy: try row.decode(column: "signed_by", as: String?.self),
                    signed: try row.decode(column: "receipt_signed", as: String?.self).flatMap {
                        try? JSONDecoder().decode(NodeSigned.self, from: Data($0.utf8))
                    })
            }
        }
    }

    /// The sealed data of each access answer, as (region, place, sealed JSON).
    public func answerData(of id: String) async throws -> [(region: String, place: String, sealed: String)] {
        try await store.withSession { db in
            try await db.raw("""
                SELECT region, place, data_sealed FROM gdpr_answers
                WHERE request_id = \(bind: id) AND status = 'answered' AND data_sealed IS NOT NULL ORDER BY region, place
                """).all().map {
                (try $0.decode(column: "region", as: String.self), try $0.decode(column: "place", as: String.self),
                 try $0.decode(column: "data_sealed", as: String.self))
            }
        }
    }

    /// Keeps a place's receipt (its data sealed, and for a node the receipt it signed and who signed it),
    /// audited; a place answers once.
    public func recordAnswer(
        _ id: String, place: String, region: String, classes: [DataClassCount], dataSealed: String?,
        signed: (receipt: NodeSigned, by: String)? = nil, at date: Date
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(classes), as: UTF8.self)
        let receipt = try signed.map { String(decoding: try encoder.encode($0.receipt), as: UTF8.self) }
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO gdpr_answers (request_id, place, region, status, attempts, classes, data_sealed, receipt_signed, signed_by,
                    answered_at, updated_at)
                VALUES (\(bind: id), \(bind: place), \(bind: region), 'answered', 1, \(bind: text), \(bind: dataSealed), \(bind: receipt),
                    \(bind: signed?.by), \(bind: Timestamp.millis(date)), \(bind: Timestamp.millis(date)))
                ON CONFLICT (request_id, place) DO UPDATE SET status = 'answered', attempts = gdpr_answers.attempts + 1, last_error = NULL,
                    classes = excluded.classes, data_sealed = excluded.data_sealed, receipt_signed = excluded.receipt_signed,
                    signed_by = excluded.signed_by, answered_at = excluded.answered_at, updated_at = excluded.updated_at
                """).run()
            var detail = ["place": place, "region": region]
            if let signed { detail["signed_by"] = signed.by }
            for count in classes {
                detail[count.dataClass] = "found \(count.found), erased \(count.erased), held \(count.held)"
            }
            try await SQLAuditLog.append(AuditEvent("gdpr_request.answer", target: id, detail: detail), by: .system("gdpr"), at: date, on: db)
        }
    }

    /// Notes a receipt that came back but did not verify (signature, signer, or content): the place counts as not
    /// answered, and the refusal is audited. The next pass sends the directive again.
    public func recordRefusedReceipt(_ id: String, place: String, region: String, error: String, at date: Date) async throws {
        try await recordFailure(id, place: place, region: region, error: "the receipt was refused: " + error, at: date)
        try await store.transaction { db in
            try await SQLAuditLog.append(
                AuditEvent("gdpr_request.receipt_refused", target: id, detail: ["place": place, "region": region, "error": String(error.prefix(500))]),
                by: .system("gdpr"), at: date, on: db)
        }
    }

    /// Notes a place that did not answer; the next pass tries it again.
    public func recordFailure(_ id: String, place: String, region: String, error: String, at date: Date) async throws {
        try await store.withSession { db in
            try await db.raw("""
                INSERT INTO gdpr_answers (request_id, place, region, status, attempts, last_error, updated_at)
                VALUES (\(bind: id), \(bind: place), \(bind: region), 'failed', 1, \(bind: String(error.prefix(1000))), \(bind: Timestamp.millis(date)))
                ON CONFLICT (request_id, place) DO UPDATE SET attempts = gdpr_answers.attempts + 1, last_error = excluded.last_error,
                    updated_at = excluded.updated_at
                """).run()
        }
    }
}

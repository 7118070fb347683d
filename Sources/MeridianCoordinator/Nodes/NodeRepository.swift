import Foundation
import MeridianCore
import SQLKit

/// The nodes, in SQL: the one list the coordinator pushes to, sends directives to and asks for messages. A node
/// is enrolled by an admin (region, id, control URL and a one-time join token), joins with the token (its key
/// and certificate are recorded), renews its certificate, and may be revoked or forgotten; every step is
/// audited. Its ACKs and NACKs are recorded here too.
public struct NodeRepository: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    public func nodes() async throws -> [NodeRecord] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM nodes ORDER BY region, id").all().map(Self.node)
        }
    }

    public func node(_ id: String) async throws -> NodeRecord? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id)").first().map(Self.node)
        }
    }

    // MARK: - Enrollment

    /// How long a join token works.
    public static let joinTokenLifetime: TimeInterval = 3600

    /// Enrolls a node, or enrolls again one that never joined, was revoked or came from before enrollment, with a
    /// new join token pinning the coordinator CA `fingerprint` (any earlier token is void). An active node must be
    /// revoked first. Returns the node and its token, which is kept only as a hash.
    public func enroll(
        _ id: String, region: RegionID, controlURL: String, pinning fingerprint: String, by actor: AuditActor, at date: Date
    ) async throws -> (node: NodeRecord, token: JoinToken, expiresAt: Date) {
        let token = JoinToken.generate(pinning: fingerprint)
        let tokenHash = token.hash
        let tokenExpiresAt = date.addingTimeInterval(Self.joinTokenLifetime)
        let node = try await store.transaction { db in
            let millis = Timestamp.millis(date)
            if let existing = try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id)").first().map(Self.node) {
                guard existing.enrollment != .active else {
                    throw RepositoryError.conflict("node \(id) is active; revoke it (meridian nodes revoke \(id)) before enrolling it again")
                }
                try await db.raw("""
                    UPDATE nodes SET region = \(bind: region.rawValue), control_url = \(bind: controlURL), state = 'enrolled',
                        public_key = NULL, certificate_serial = NULL, previous_certificate_serial = NULL, certificate_expires_at = NULL,
                        enrolled_at = \(bind: millis), revoked_at = NULL, applied_version = NULL, last_result = NULL, last_error = NULL,
                        last_result_at = NULL
                    WHERE id = \(bind: id)
                    """).run()
            } else {
                try await db.raw("""
                    INSERT INTO nodes (id, region, control_url, first_seen_at, last_seen_at, state, enrolled_at)
                    VALUES (\(bind: id), \(bind: region.rawValue), \(bind: controlURL), \(bind: millis), \(bind: millis), 'enrolled', \(bind: millis))
                    """).run()
            }
            try await db.raw("DELETE FROM node_join_tokens WHERE node_id = \(bind: id)").run()
            try await db.raw("""
                INSERT INTO node_join_tokens (token_hash, node_id, created_at, expires_at)
                VALUES (\(bind: tokenHash), \(bind: id), \(bind: millis), \(bind: Timestamp.millis(tokenExpiresAt)))
                """).run()
            try await SQLAuditLog.append(
                AuditEvent(
                    "node.enroll", target: "node/\(id)",
                    detail: ["region": region.rawValue, "control_url": controlURL, "token_expires_at": ISOTime.string(tokenExpiresAt)]),
                by: actor, at: date, on: db)
            return try Self.node(try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id)").first()!)
        }
        return (node, token, tokenExpiresAt)
    }

    /// Why a join token is refused.
    public enum JoinRefusal: String, Error, Sendable {
        case unknown, used, expired
    }

    /// The node a join token is for, or why it cannot be used.
    public func joining(tokenHash: String, at date: Date) async throws -> Result<NodeRecord, JoinRefusal> {
        try await store.withSession { db in
            guard let row = try await db.raw("SELECT * FROM node_join_tokens WHERE token_hash = \(bind: tokenHash)").first() else {
                return .failure(.unknown)
            }
            if try row.decode(column: "used_at", as: Int64?.self) != nil { return .failure(.used) }
            if try row.decode(column: "expires_at", as: Int64.self) <= Timestamp.millis(date) { return .failure(.expired) }
            let id = try row.decode(column: "node_id", as: String.self)
            guard let node = try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id) AND state = 'enrolled'").first() else {
                return .failure(.unknown)
            }
            return .success(try Self.node(node))
        }
    }

    /// Uses a join token and makes its node active with the certificate issued for its key; nil when the token was
    /// used (or revoked) meanwhile. Audited as `node.join`.
    public func join(
        tokenHash: String, publicKey: String, serial: String, expiresAt: Date, sourceIP: String, at date: Date
    ) async throws -> NodeRecord? {
        try await store.transaction { db in
            let millis = Timestamp.millis(date)
            guard let token = try await db.raw("""
                UPDATE node_join_tokens SET used_at = \(bind: millis)
                WHERE token_hash = \(bind: tokenHash) AND used_at IS NULL AND expires_at > \(bind: millis)
                RETURNING node_id
                """).first()
            else { return nil }
            let id = try token.decode(column: "node_id", as: String.self)
            try await db.raw("""
                UPDATE nodes SET state = 'active', public_key = \(bind: publicKey), certificate_serial = \(bind: serial),
                    previous_certificate_serial = NULL, certificate_expires_at = \(bind: Timestamp.millis(expiresAt)), last_seen_at = \(bind: millis)
                WHERE id = \(bind: id) AND state = 'enrolled'
                """).run()
            guard let row = try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id) AND state = 'active'").first() else { return nil }
            let node = try Self.node(row)
            try await SQLAuditLog.append(
                AuditEvent(
                    "node.join", target: "node/\(id)",
                    detail: ["region": node.region, "certificate_serial": serial, "certificate_expires_at": ISOTime.string(expiresAt)]),
                by: AuditActor(id: "node:\(id)", role: "node", sourceIP: sourceIP), at: date, on: db)
            return node
        }
    }

    /// Records a join that was refused, so that tries with stolen or stale tokens show in the audit log, against
    /// the node the token was for when it is known.
    public func refusedJoin(_ refusal: JoinRefusal, tokenHash: String, sourceIP: String, at date: Date) async throws {
        try await store.withSession { db in
            let node = try await db.raw("SELECT node_id FROM node_join_tokens WHERE token_hash = \(bind: tokenHash)").first()?
                .decode(column: "node_id", as: String.self)
            _ = try await SQLAuditLog.append(
                AuditEvent("node.join.refused", target: node.map { "node/\($0)" } ?? "node/-", detail: ["reason": refusal.rawValue]),
                by: AuditActor(id: "system:node-link", role: "system", sourceIP: sourceIP), at: date, on: db)
        }
    }

    /// Records a node-link call whose certificate was refused (revoked, replaced, another region, not enrolled).
    public func refused(node: String?, reason: String, sourceIP: String, at date: Date) async throws {
        try await store.withSession { db in
            _ = try await SQLAuditLog.append(
                AuditEvent("node.refused", target: node.map { "node/\($0)" } ?? "node/-", detail: ["reason": reason]),
                by: AuditActor(id: "system:node-link", role: "system", sourceIP: sourceIP), at: date, on: db)
        }
    }

    /// Whether `serial` is a certificate the node may use now: its current one, or the one it renewed from.
    public func isCurrent(_ id: String, serial: String) async throws -> NodeRecord? {
        try await store.withSession { db in
            try await db.raw("""
                SELECT * FROM nodes WHERE id = \(bind: id) AND state = 'active'
                    AND (certificate_serial = \(bind: serial) OR previous_certificate_serial = \(bind: serial))
                """).first().map(Self.node)
        }
    }

    /// Records a node's renewed certificate; the one it renewed from stays good until it expires.
    public func renew(_ id: String, publicKey: String, serial: String, expiresAt: Date, sourceIP: String, at date: Date) async throws {
        try await store.transaction { db in
            try await db.raw("""
                UPDATE nodes SET previous_certificate_serial = certificate_serial, certificate_serial = \(bind: serial),
                    public_key = \(bind: publicKey), certificate_expires_at = \(bind: Timestamp.millis(expiresAt)),
                    last_seen_at = \(bind: Timestamp.millis(date))
                WHERE id = \(bind: id) AND state = 'active'
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("node.renew", target: "node/\(id)", detail: ["certificate_serial": serial, "certificate_expires_at": ISOTime.string(expiresAt)]),
                by: AuditActor(id: "node:\(id)", role: "node", sourceIP: sourceIP), at: date, on: db)
        }
    }

    /// Ends a node's access at once: its certificates are refused from the next request, its join token is void.
    /// Audited as `node.revoke`; nil with no such node.
    public func revoke(_ id: String, by actor: AuditActor, at date: Date) async throws -> NodeRecord? {
        try await store.transaction { db in
            guard try await db.raw("SELECT id FROM nodes WHERE id = \(bind: id)").first() != nil else { return nil }
            try await db.raw("UPDATE nodes SET state = 'revoked', revoked_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)").run()
            try await db.raw("DELETE FROM node_join_tokens WHERE node_id = \(bind: id)").run()
            try await SQLAuditLog.append(AuditEvent("node.revoke", target: "node/\(id)"), by: actor, at: date, on: db)
            return try Self.node(try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id)").first()!)
        }
    }

    /// Deletes a node's row, with a `node.forget` audit entry; returns the row as it was, or nil with no such node.
    public func forget(node id: String, by actor: AuditActor, at date: Date) async throws -> NodeRecord? {
        try await store.transaction { db in
            guard let row = try await db.raw("SELECT * FROM nodes WHERE id = \(bind: id)").first() else { return nil }
            let node = try Self.node(row)
            try await db.raw("DELETE FROM nodes WHERE id = \(bind: id)").run()
            try await db.raw("DELETE FROM node_join_tokens WHERE node_id = \(bind: id)").run()
            try await SQLAuditLog.append(
                AuditEvent(
                    "node.forget", target: "node/\(id)",
                    detail: ["region": node.region, "control_url": node.controlURL, "applied_version": node.appliedVersion.map(String.init) ?? "none"]),
                by: actor, at: date, on: db)
            return node
        }
    }

    // MARK: - Answers

    /// A node called with its certificate: records when it was last heard from.
    public func seen(_ id: String, at date: Date) async throws {
        try await store.withSession { db in
            try await db.raw("UPDATE nodes SET last_seen_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)").run()
        }
    }

    /// Records a node's answer: an ACK moves its applied version; a NACK or no answer keeps it and says why.
    /// `signed` is the report as the node signed it, kept as its word for what it applied.
    public func record(
        node id: String, result: NodeRecord.Result, version: Int?, error: String?, signed: NodeSigned? = nil, at date: Date
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let evidence = try signed.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try await store.withSession { db in
            let millis = Timestamp.millis(date)
            let text = error.map { String($0.prefix(2000)) }
            if result == .ack, let version {
                try await db.raw("""
                    UPDATE nodes SET applied_version = \(bind: Int64(version)), last_result = 'ack', last_error = NULL,
                        last_result_at = \(bind: millis), last_seen_at = \(bind: millis),
                        last_report_signed = COALESCE(\(bind: evidence), last_report_signed) WHERE id = \(bind: id)
                    """).run()
            } else {
                let seen = result == .unreachable ? "" : ", last_seen_at = \(millis)"
                try await db.raw("""
                    UPDATE nodes SET last_result = \(bind: result.rawValue), last_error = \(bind: text),
                        last_result_at = \(bind: millis)\(unsafeRaw: seen),
                        last_report_signed = COALESCE(\(bind: evidence), last_report_signed) WHERE id = \(bind: id)
                    """).run()
            }
        }
    }

    static func node(_ row: any SQLRow) throws -> NodeRecord {
        var node = NodeRecord(
            id: try row.decode(column: "id", as: String.self), region: try row.decode(column: "region", as: String.self),
            controlURL: try row.decode(column: "control_url", as: String.self),
            appliedVersion: try row.decode(column: "applied_version", as: Int64?.self).map(Int.init),
            lastResult: try row.decode(column: "last_result", as: String?.self).flatMap(NodeRecord.Result.init),
            lastError: try row.decode(column: "last_error", as: String?.self),
            lastResultAt: try row.decode(column: "last_result_at", as: Int64?.self).map(Timestamp.date),
            firstSeenAt: Timestamp.date(try row.decode(column: "first_seen_at", as: Int64.self)),
            lastSeenAt: Timestamp.date(try row.decode(column: "last_seen_at", as: Int64.self)))
        node.enrollment = NodeRecord.Enrollment(rawValue: try row.decode(column: "state", as: String.self)) ?? .registered
        node.publicKey = try row.decode(column: "public_key", as: String?.self)
        node.certificateSerial = try row.decode(column: "certificate_serial", as: String?.self)
        node.previousCertificateSerial = try row.decode(column: "previous_certificate_serial", as: String?.self)
        node.certificateExpiresAt = try row.decode(column: "certificate_expires_at", as: Int64?.self).map(Timestamp.date)
        node.enrolledAt = try row.decode(column: "enrolled_at", as: Int64?.self).map(Timestamp.date)
        node.revokedAt = try row.decode(column: "revoked_at", as: Int64?.self).map(Timestamp.date)
        return node
    }
}

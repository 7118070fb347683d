import Foundation
import MeridianCore
import SQLKit

/// Dashboard sessions, kept in the database so that they survive a restart and work on every replica. The cookie
/// holds 256 random bits; the table holds only their SHA-256. A session lasts ``lifetime`` from sign-in and ends
/// after ``idle`` without a request. One past the password but not yet the second factor is good for
/// ``secondFactorWindow`` and for nothing but the code form; when the code is right it is replaced by a new
/// session with a new id. A user has at most ``perUser`` sessions: a new one ends their oldest.
struct AccountSessions: Sendable {
    struct Session: Sendable {
        /// The cookie's value; known only from the cookie or at creation.
        var id: String
        var userID: String
        var customerID: String
        var csrf: String
        var secondFactorDue: Bool
        var expires: Date
    }

    /// A message for the next page view (the result of the last form), shown once. Kept sealed: it may hold a
    /// secret shown once, such as a new webhook secret.
    struct Notice: Sendable, Codable {
        var text: String
        var isError: Bool
    }

    static let lifetime: TimeInterval = 12 * 3600
    static let idle: TimeInterval = 3600
    static let secondFactorWindow: TimeInterval = 300
    static let perUser = 10

    let store: any SQLStore
    let secrets: SecretBox
    let now: @Sendable () -> Date

    func create(userID: String, customerID: String, secondFactorDue: Bool) async throws -> Session {
        let date = now()
        let session = Session(
            id: Self.random(), userID: userID, customerID: customerID, csrf: Self.random(), secondFactorDue: secondFactorDue,
            expires: date.addingTimeInterval(secondFactorDue ? Self.secondFactorWindow : Self.lifetime))
        try await store.transaction { db in
            try await db.raw("""
                DELETE FROM account_sessions WHERE expires_at <= \(bind: Timestamp.millis(date))
                    OR last_seen_at <= \(bind: Timestamp.millis(date.addingTimeInterval(-Self.idle)))
                """).run()
            let own = try await db.raw("""
                SELECT id_hash FROM account_sessions WHERE user_id = \(bind: userID) ORDER BY created_at DESC, id_hash
                """).all().map { try $0.decode(column: "id_hash", as: String.self) }
            for old in own.dropFirst(Self.perUser - 1) {
                try await db.raw("DELETE FROM account_sessions WHERE id_hash = \(bind: old)").run()
            }
            try await db.raw("""
                INSERT INTO account_sessions (id_hash, user_id, customer_id, csrf, second_factor_due, created_at, expires_at, last_seen_at)
                VALUES (\(bind: AccountSecrets.digest(session.id)), \(bind: userID), \(bind: customerID), \(bind: session.csrf),
                    \(bind: secondFactorDue ? 1 : 0), \(bind: Timestamp.millis(date)), \(bind: Timestamp.millis(session.expires)),
                    \(bind: Timestamp.millis(date)))
                """).run()
        }
        return session
    }

    /// The session of a cookie, if it has not expired nor been idle too long; a request counts as activity.
    func find(_ cookie: String) async throws -> Session? {
        let date = now()
        let hash = AccountSecrets.digest(cookie)
        return try await store.withSession { db in
            guard let row = try await db.raw("SELECT * FROM account_sessions WHERE id_hash = \(bind: hash)").first() else { return nil }
            let expires = Timestamp.date(try row.decode(column: "expires_at", as: Int64.self))
            let seen = Timestamp.date(try row.decode(column: "last_seen_at", as: Int64.self))
            guard expires > date, seen > date.addingTimeInterval(-Self.idle) else {
                try await db.raw("DELETE FROM account_sessions WHERE id_hash = \(bind: hash)").run()
                return nil
            }
            // At most one write a minute per session.
            if date.timeIntervalSince(seen) > 60 {
                try await db.raw("UPDATE account_sessions SET last_seen_at = \(bind: Timestamp.millis(date)) WHERE id_hash = \(bind: hash)").run()
            }
            return Session(
                id: cookie, userID: try row.decode(column: "user_id", as: String.self), customerID: try row.decode(column: "customer_id", as: String.self),
                csrf: try row.decode(column: "csrf", as: String.self), secondFactorDue: try row.decode(column: "second_factor_due", as: Int.self) != 0,
                expires: expires)
        }
    }

    /// Replaces a session waiting for its second factor with a full one under a new id (so an id seen before the
    /// code is worth nothing after it).
    func completeSecondFactor(_ session: Session) async throws -> Session {
        try await end(session)
        return try await create(userID: session.userID, customerID: session.customerID, secondFactorDue: false)
    }

    func setNotice(_ session: Session, _ notice: Notice) async throws {
        let sealed = try secrets.seal(String(decoding: try JSONEncoder().encode(notice), as: UTF8.self))
        try await store.withSession { db in
            try await db.raw("UPDATE account_sessions SET notice_sealed = \(bind: sealed) WHERE id_hash = \(bind: AccountSecrets.digest(session.id))").run()
        }
    }

    /// The pending notice, cleared.
    func takeNotice(_ session: Session) async throws -> Notice? {
        let hash = AccountSecrets.digest(session.id)
        let sealed: String? = try await store.withSession { db in
            guard let row = try await db.raw("SELECT notice_sealed FROM account_sessions WHERE id_hash = \(bind: hash)").first(),
                let sealed = try row.decode(column: "notice_sealed", as: String?.self)
            else { return nil }
            try await db.raw("UPDATE account_sessions SET notice_sealed = NULL WHERE id_hash = \(bind: hash)").run()
            return sealed
        }
        guard let sealed else { return nil }
        return try JSONDecoder().decode(Notice.self, from: Data(try secrets.open(sealed).utf8))
    }

    func end(_ session: Session) async throws {
        try await store.withSession { db in
            try await db.raw("DELETE FROM account_sessions WHERE id_hash = \(bind: AccountSecrets.digest(session.id))").run()
        }
    }

    /// Ends every session of `userID` but the one whose cookie is `keeping`.
    static func endOthers(of userID: String, keeping: String?, on db: any SQLDatabase) async throws {
        try await db.raw("""
            DELETE FROM account_sessions WHERE user_id = \(bind: userID) AND id_hash <> \(bind: keeping.map(AccountSecrets.digest) ?? "")
            """).run()
    }

    /// 256 random bits, base64url.
    static func random() -> String {
        Base64URL.random(bytes: 32)
    }
}

import Foundation
import MeridianCore
import SQLKit

/// The people of customer accounts, in SQL: users, invitations and recovery codes. Every change is audited in
/// the same transaction; no password, secret, code or token is ever in the audit log or kept in the clear.
public struct AccountPeople: Sendable {
    let store: any SQLStore

    public init(store: any SQLStore) {
        self.store = store
    }

    // MARK: - Invitations

    /// Records an invitation whose token hashes to `tokenHash`, and `notice` (its e-mail) in the outbox.
    func invite(_ invitation: AccountInvitation, tokenHash: String, notice: Notification?, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                INSERT INTO account_invitations (token_hash, id, customer_id, email, role, invited_by, created_at, expires_at)
                VALUES (\(bind: tokenHash), \(bind: invitation.id), \(bind: invitation.customerID), \(bind: invitation.email),
                    \(bind: invitation.role.rawValue), \(bind: invitation.invitedBy), \(bind: Timestamp.millis(invitation.createdAt)),
                    \(bind: Timestamp.millis(invitation.expiresAt)))
                """).run()
            if let notice { try await NotificationOutbox.insert(notice, on: db) }
            try await SQLAuditLog.append(
                AuditEvent("account.user.invite", target: invitation.customerID, detail: [
                    "invitation_id": invitation.id, "email": invitation.email, "role": invitation.role.rawValue,
                    "expires_at": ISOTime.string(invitation.expiresAt),
                ]), by: actor, at: invitation.createdAt, on: db)
        }
    }

    func invitation(tokenHash: String) async throws -> AccountInvitation? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM account_invitations WHERE token_hash = \(bind: tokenHash)").first().map(Self.decodeInvitation)
        }
    }

    /// The account's invitations not yet accepted nor expired.
    func openInvitations(_ customerID: String, at date: Date) async throws -> [AccountInvitation] {
        try await store.withSession { db in
            try await db.raw("""
                SELECT * FROM account_invitations WHERE customer_id = \(bind: customerID) AND accepted_at IS NULL
                    AND expires_at > \(bind: Timestamp.millis(date)) ORDER BY created_at
                """).all().map(Self.decodeInvitation)
        }
    }

    /// Turns an open invitation into a user with `passwordHash`; a used or expired invitation, or an address that
    /// is someone's already, is a conflict and changes nothing.
    func accept(tokenHash: String, name: String, passwordHash: String, at date: Date, sourceIP: String) async throws -> AccountUser {
        try await store.transaction { db in
            guard let invitation = try await db.raw("SELECT * FROM account_invitations WHERE token_hash = \(bind: tokenHash)").first()
                .map(Self.decodeInvitation), invitation.isOpen(at: date)
            else { throw RepositoryError.conflict("this invitation has expired or was used already; ask for a new one") }
            if try await db.raw("SELECT id FROM account_users WHERE email = \(bind: invitation.email)").first() != nil {
                throw RepositoryError.conflict("\(invitation.email) already signs in to a Meridian account")
            }
            let user = AccountUser(
                id: ResourceID.make(prefix: "usr", at: date), customerID: invitation.customerID, email: invitation.email, name: name,
                role: invitation.role, passwordHash: passwordHash, oidcSubject: nil, createdAt: date, updatedAt: date)
            try await db.raw("""
                INSERT INTO account_users (id, customer_id, email, name, role, password_hash, created_at, updated_at)
                VALUES (\(bind: user.id), \(bind: user.customerID), \(bind: user.email), \(bind: user.name), \(bind: user.role.rawValue),
                    \(bind: passwordHash), \(bind: Timestamp.millis(date)), \(bind: Timestamp.millis(date)))
                """).run()
            try await db.raw("UPDATE account_invitations SET accepted_at = \(bind: Timestamp.millis(date)) WHERE token_hash = \(bind: tokenHash)").run()
            try await SQLAuditLog.append(
                AuditEvent("account.user.join", target: user.customerID, detail: [
                    "user_id": user.id, "email": user.email, "role": user.role.rawValue, "invitation_id": invitation.id,
                ]), by: AuditActor(id: user.id, role: Role.customer.rawValue, sourceIP: sourceIP), at: date, on: db)
            return user
        }
    }

    // MARK: - Users

    func users(_ customerID: String) async throws -> [AccountUser] {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM account_users WHERE customer_id = \(bind: customerID) ORDER BY created_at, id").all().map(Self.decodeUser)
        }
    }

    func user(_ id: String) async throws -> AccountUser? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM account_users WHERE id = \(bind: id)").first().map(Self.decodeUser)
        }
    }

    func user(email: String) async throws -> AccountUser? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM account_users WHERE email = \(bind: email.lowercased())").first().map(Self.decodeUser)
        }
    }

    func user(oidcSubject: String) async throws -> AccountUser? {
        try await store.withSession { db in
            try await db.raw("SELECT * FROM account_users WHERE oidc_subject = \(bind: oidcSubject)").first().map(Self.decodeUser)
        }
    }

    /// Ties a user to their OpenID Connect identity at their first sign-in through the provider.
    func link(_ id: String, oidcSubject: String, at date: Date, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                UPDATE account_users SET oidc_subject = \(bind: oidcSubject), updated_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)
                """).run()
            try await SQLAuditLog.append(
                AuditEvent("account.user.oidc_link", target: try await Self.customer(of: id, on: db), detail: ["user_id": id]), by: actor, at: date, on: db)
        }
    }

    /// Removes a user of `customerID` and ends their sessions; the last owner cannot be removed.
    func remove(_ id: String, of customerID: String, at date: Date, by actor: AuditActor) async throws {
        try await store.transaction { db in
            guard let user = try await db.raw("SELECT * FROM account_users WHERE id = \(bind: id) AND customer_id = \(bind: customerID)").first()
                .map(Self.decodeUser)
            else { throw RepositoryError.notFound(id) }
            if user.role == .owner {
                let owners = try await db.raw("""
                    SELECT COUNT(*) AS n FROM account_users WHERE customer_id = \(bind: customerID) AND role = 'owner'
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
                guard owners > 1 else { throw RepositoryError.conflict("\(user.email) is the account's only owner; make someone else an owner first") }
            }
            try await db.raw("DELETE FROM account_users WHERE id = \(bind: id)").run()
            try await SQLAuditLog.append(
                AuditEvent("account.user.remove", target: customerID, detail: ["user_id": id, "email": user.email]), by: actor, at: date, on: db)
        }
    }

    /// A new password; every other session of the user ends.
    func setPassword(_ id: String, hash: String, keeping session: String?, at date: Date, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                UPDATE account_users SET password_hash = \(bind: hash), updated_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)
                """).run()
            try await AccountSessions.endOthers(of: id, keeping: session, on: db)
            try await SQLAuditLog.append(AuditEvent("account.user.password", target: try await Self.customer(of: id, on: db), detail: ["user_id": id]),
                by: actor, at: date, on: db)
        }
    }

    /// Turns the second factor on with `secretSealed`, whose code for `step` was just given, and replaces the
    /// recovery codes with those hashing to `recoveryHashes`.
    func enableSecondFactor(_ id: String, secretSealed: String, step: Int64, recoveryHashes: [String], at date: Date, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                UPDATE account_users SET totp_secret_sealed = \(bind: secretSealed), totp_last_step = \(bind: step),
                    updated_at = \(bind: Timestamp.millis(date)) WHERE id = \(bind: id)
                """).run()
            try await db.raw("DELETE FROM account_recovery_codes WHERE user_id = \(bind: id)").run()
            for hash in recoveryHashes {
                try await db.raw("INSERT INTO account_recovery_codes (user_id, code_hash) VALUES (\(bind: id), \(bind: hash))").run()
            }
            try await SQLAuditLog.append(
                AuditEvent("account.user.second_factor.enable", target: try await Self.customer(of: id, on: db), detail: ["user_id": id]),
                by: actor, at: date, on: db)
        }
    }

    func disableSecondFactor(_ id: String, at date: Date, by actor: AuditActor) async throws {
        try await store.transaction { db in
            try await db.raw("""
                UPDATE account_users SET totp_secret_sealed = NULL, totp_last_step = NULL, updated_at = \(bind: Timestamp.millis(date))
                WHERE id = \(bind: id)
                """).run()
            try await db.raw("DELETE FROM account_recovery_codes WHERE user_id = \(bind: id)").run()
            try await SQLAuditLog.append(
                AuditEvent("account.user.second_factor.disable", target: try await Self.customer(of: id, on: db), detail: ["user_id": id]),
                by: actor, at: date, on: db)
        }
    }

    /// Takes TOTP time step `step` for the user if it is later than the last one taken: a code works once.
    func takeStep(_ id: String, _ step: Int64) async throws -> Bool {
        try await store.withSession { db in
            try await db.raw("""
                UPDATE account_users SET totp_last_step = \(bind: step)
                WHERE id = \(bind: id) AND (totp_last_step IS NULL OR totp_last_step < \(bind: step)) RETURNING id
                """).first() != nil
        }
    }

    /// Uses up the recovery code hashing to `hash`, if the user has it unused.
    func useRecoveryCode(_ id: String, hash: String, at date: Date) async throws -> Bool {
        try await store.withSession { db in
            try await db.raw("""
                UPDATE account_recovery_codes SET used_at = \(bind: Timestamp.millis(date))
                WHERE user_id = \(bind: id) AND code_hash = \(bind: hash) AND used_at IS NULL RETURNING user_id
                """).first() != nil
        }
    }

    func unusedRecoveryCodes(_ id: String) async throws -> Int {
        try await store.withSession { db in
            try await db.raw("SELECT COUNT(*) AS n FROM account_recovery_codes WHERE user_id = \(bind: id) AND used_at IS NULL")
                .first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    // MARK: - Rows

    static func customer(of user: String, on db: any SQLDatabase) async throws -> String {
        guard let row = try await db.raw("SELECT customer_id FROM account_users WHERE id = \(bind: user)").first() else {
            throw RepositoryError.notFound(user)
        }
        return try row.decode(column: "customer_id", as: String.self)
    }

    static func decodeUser(_ row: any SQLRow) throws -> AccountUser {
        AccountUser(
            id: try row.decode(column: "id", as: String.self),
            customerID: try row.decode(column: "customer_id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            role: AccountUser.Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .member,
            passwordHash: try row.decode(column: "password_hash", as: String?.self),
            totpSecretSealed: try row.decode(column: "totp_secret_sealed", as: String?.self),
            totpLastStep: try row.decode(column: "totp_last_step", as: Int64?.self),
            oidcSubject: try row.decode(column: "oidc_subject", as: String?.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Timestamp.date(try row.decode(column: "updated_at", as: Int64.self)))
    }

    static func decodeInvitation(_ row: any SQLRow) throws -> AccountInvitation {
        AccountInvitation(
            id: try row.decode(column: "id", as: String.self),
            customerID: try row.decode(column: "customer_id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            role: AccountUser.Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .member,
            invitedBy: try row.decode(column: "invited_by", as: String.self),
            createdAt: Timestamp.date(try row.decode(column: "created_at", as: Int64.self)),
            expiresAt: Timestamp.date(try row.decode(column: "expires_at", as: Int64.self)),
            acceptedAt: try row.decode(column: "accepted_at", as: Int64?.self).map(Timestamp.date))
    }
}

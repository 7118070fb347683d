import Foundation

/// A person who signs in to a customer's dashboard. Owners manage the account's people; members do everything
/// else. A user belongs to one account; an e-mail address is one user.
public struct AccountUser: Sendable, Hashable {
    public enum Role: String, Sendable, CaseIterable {
        case owner, member
    }

    public var id: String
    public var customerID: String
    public var email: String
    public var name: String
    public var role: Role
    /// bcrypt; nil for a user who signs in only through the OpenID Connect provider.
    public var passwordHash: String?
    /// The TOTP secret, sealed with the master key; nil until the user turns the second factor on.
    public var totpSecretSealed: String?
    /// The last TOTP time step accepted: a code is good once.
    public var totpLastStep: Int64?
    /// `<issuer> <sub>` of the OpenID Connect identity the user signs in with, once they have.
    public var oidcSubject: String?
    public var createdAt: Date
    public var updatedAt: Date

    public var hasSecondFactor: Bool { totpSecretSealed != nil }
}

/// An invitation to join an account, sent by e-mail (through the outbox) and shown once to whoever made it.
/// Only the SHA-256 of its token is kept; it is good for ``lifetime``, once.
public struct AccountInvitation: Sendable, Hashable {
    public var id: String
    public var customerID: String
    public var email: String
    public var role: AccountUser.Role
    public var invitedBy: String
    public var createdAt: Date
    public var expiresAt: Date
    public var acceptedAt: Date?

    public static let lifetime: TimeInterval = 7 * 86_400

    public func isOpen(at date: Date) -> Bool { acceptedAt == nil && expiresAt > date }
}

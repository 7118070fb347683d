import MeridianCore

/// The authenticated token behind the current request, set by ``AuthenticationMiddleware``.
public struct Caller: Sendable {
    public var token: TokenRecord
    public var ip: String

    public var role: Role { token.role }

    /// How the audit log names this caller.
    public var actor: AuditActor { AuditActor(id: token.id, role: token.role.rawValue, sourceIP: ip) }

    @TaskLocal public static var current: Caller?
}

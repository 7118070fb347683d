import MeridianCore

/// Who is acting, as the audit log records it: a token (id and role) and the address the request came from,
/// or one of the coordinator's own jobs.
public struct AuditActor: Sendable, Hashable {
    public var id: String
    public var role: String
    public var sourceIP: String

    public init(id: String, role: String, sourceIP: String) {
        self.id = id
        self.role = role
        self.sourceIP = sourceIP
    }

    /// A coordinator job, e.g. `system:retention`.
    public static func system(_ job: String) -> AuditActor {
        AuditActor(id: "system:\(job)", role: "system", sourceIP: "-")
    }
}

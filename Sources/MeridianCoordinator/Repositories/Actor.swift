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

/// A change that the audit log must record, written in the same transaction as the change itself.
public struct AuditEvent: Sendable {
    public var action: String
    public var target: String
    public var detail: [String: String]

    public init(_ action: String, target: String, detail: [String: String] = [:]) {
        self.action = action
        self.target = target
        self.detail = detail
    }
}

/// Why a repository refused a change.
public enum RepositoryError: Error, Sendable, Equatable {
    case notFound(String)
    /// The domain is already claimed by another customer.
    case domainTaken(String)
    case conflict(String)
}

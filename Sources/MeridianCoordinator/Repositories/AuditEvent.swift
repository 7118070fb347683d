import MeridianCore

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

/// Who a bearer token speaks for. Operators are admin, support, dpo and auditor; a customer token is scoped to
/// one customer account.
public enum Role: String, Sendable, CaseIterable, Codable, Hashable {
    /// Runs the service: accounts, tokens, configuration.
    case admin
    /// Helps customers; reads a customer's data only under an access grant the customer gave.
    case support
    /// The data protection officer: data-subject requests, DPAs, legal requests.
    case dpo
    /// Reads the audit log and verifies it; changes nothing.
    case auditor
    /// The small group that reads the SMTP protocol logs when investigating abuse or an attack; nothing else.
    case security
    /// A customer's own API key: sees and changes only its own account.
    case customer

    public static let operatorRoles: [Role] = [.admin, .support, .dpo, .auditor, .security]
}

import MeridianCore

/// Why a repository refused a change.
public enum RepositoryError: Error, Sendable, Equatable {
    case notFound(String)
    /// The domain is already claimed by another customer.
    case domainTaken(String)
    case conflict(String)
}

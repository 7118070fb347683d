import Foundation

/// Where a ticket stands. `extended` is a flag on the ticket, not a state.
public enum DataSubjectRequestState: String, Sendable, CaseIterable, Codable {
    case received, identityPending = "identity_pending", verified, inProgress = "in_progress", completed, rejected, cancelled

    public var isClosed: Bool { self == .completed || self == .rejected || self == .cancelled }

    /// The states a ticket may move to from this one. Identity comes first; a ticket can be rejected (identity
    /// not proved, a manifestly unfounded request) or cancelled (withdrawn) until it is closed.
    public var next: [DataSubjectRequestState] {
        switch self {
        case .received: [.identityPending, .verified, .rejected, .cancelled]
        case .identityPending: [.verified, .rejected, .cancelled]
        case .verified: [.inProgress, .rejected, .cancelled]
        case .inProgress: [.completed, .rejected, .cancelled]
        case .completed, .rejected, .cancelled: []
        }
    }

    public func canMove(to state: DataSubjectRequestState) -> Bool { next.contains(state) }
}

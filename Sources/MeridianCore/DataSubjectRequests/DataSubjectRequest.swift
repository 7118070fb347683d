import Foundation

/// What a data subject asks for (GDPR Arts. 15 to 21; the CCPA's rights to know, delete and correct).
public enum DataSubjectRequestType: String, Sendable, CaseIterable, Codable {
    case access, portability, erasure, rectification, restriction, objection

    /// Whether the request is carried out by asking every region (access, portability and erasure fan out).
    public var fansOut: Bool { self == .access || self == .portability || self == .erasure }
}

/// The law a request is made under, which sets its deadline.
public enum Regulation: String, Sendable, CaseIterable, Codable {
    case gdpr, ccpa

    /// When an answer is due for a request received at `received`: one calendar month (GDPR Art. 12(3); a
    /// month from the 31st ends on the last day of a shorter month) or 45 days (CCPA, Cal. Civ. Code 1798.130).
    public func due(receivedAt received: Date) -> Date {
        switch self {
        case .gdpr: Self.utc.date(byAdding: .month, value: 1, to: received) ?? received.addingTimeInterval(30 * 86_400)
        case .ccpa: received.addingTimeInterval(45 * 86_400)
        }
    }

    /// The latest the deadline may be moved to, once, with a reason: two further months (GDPR) or 45 further days
    /// (CCPA) after the first deadline.
    public func latestExtension(of due: Date) -> Date {
        switch self {
        case .gdpr: Self.utc.date(byAdding: .month, value: 2, to: due) ?? due.addingTimeInterval(61 * 86_400)
        case .ccpa: due.addingTimeInterval(45 * 86_400)
        }
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

/// Whose data a request concerns: a person by e-mail address, or a customer account by its id.
public enum SubjectIdentity: Sendable, Hashable {
    case email(String)
    case customer(String)

    /// Parses an identity; nil for an address that is not one, or an id that is not a customer id.
    public init?(email: String?, customerID: String?) {
        switch (email, customerID) {
        case (let email?, nil):
            guard let mailbox = SMTPMailbox(email.trimmingCharacters(in: .whitespaces)) else { return nil }
            self = .email(mailbox.description.lowercased())
        case (nil, let id?):
            guard id.hasPrefix("cus_"), id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
            self = .customer(id)
        default:
            return nil
        }
    }

    public var kind: String {
        switch self {
        case .email: "email"
        case .customer: "customer"
        }
    }

    public var value: String {
        switch self {
        case .email(let address): address
        case .customer(let id): id
        }
    }
}

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

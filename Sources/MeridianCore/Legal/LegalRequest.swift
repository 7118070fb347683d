import Foundation

/// A government or law-enforcement request, as the dpo records it.
public struct LegalRequest: Sendable, Hashable {
    public var id: String
    public var receivedOn: CalendarDay
    public var authority: String
    /// ISO 3166-1 alpha-2.
    public var country: String
    public var kind: LegalRequestKind
    public var accountsAffected: Int
    public var outcome: LegalRequestOutcome
    public var gagUntil: CalendarDay?
    public var notes: String?
    public var createdAt: Date
    public var createdBy: String
    public var updatedAt: Date
    /// The accounts the request concerns: while it is open, their data is under legal hold and no erasure
    /// removes it.
    public var customerIDs: [String] = []

    public init(
        id: String, receivedOn: CalendarDay, authority: String, country: String, kind: LegalRequestKind, accountsAffected: Int,
        outcome: LegalRequestOutcome, gagUntil: CalendarDay?, notes: String?, createdAt: Date, createdBy: String, updatedAt: Date
    ) {
        self.id = id
        self.receivedOn = receivedOn
        self.authority = authority
        self.country = country
        self.kind = kind
        self.accountsAffected = accountsAffected
        self.outcome = outcome
        self.gagUntil = gagUntil
        self.notes = notes
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = updatedAt
    }

    /// Still being answered or contested: its accounts' data is on hold.
    public var isOpen: Bool { outcome == .pending || outcome == .challenged }

    /// The holds this request places while it is open, one per account, with the reason a receipt gives.
    public var holds: [LegalHold] {
        guard isOpen else { return [] }
        return customerIDs.map {
            LegalHold(customerID: $0, reason: "data under an open legal request (\(id), \(kind.rawValue) from \(authority), \(outcome.rawValue))")
        }
    }
}

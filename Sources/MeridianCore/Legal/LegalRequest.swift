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

/// What a government or law-enforcement authority asked for. The kinds a warrant canary speaks of map to its
/// CanaryTail codes, so that the coordinator can refuse to sign a canary that the legal-request log contradicts.
public enum LegalRequestKind: String, Sendable, CaseIterable, Codable {
    case warrant, gagOrder = "gag_order", subpoena, trapAndTrace = "trap_and_trace", ceaseOrder = "cease_order", raid, seizure
    case credentialDemand = "credential_demand", operationalDemand = "operational_demand", courtOrder = "court_order"
    case preservationRequest = "preservation_request", emergencyRequest = "emergency_request"

    /// The canary code whose "never received" this kind of request makes false, if any.
    public var canaryCode: CanaryCode? {
        switch self {
        case .warrant: .warrants
        case .gagOrder: .gagOrders
        case .subpoena: .subpoenas
        case .trapAndTrace: .trapAndTrace
        case .ceaseOrder: .ceaseOrders
        case .raid: .raids
        case .seizure: .seizures
        case .credentialDemand: .credentialsCompromised
        case .operationalDemand: .operationsCompromised
        case .courtOrder, .preservationRequest, .emergencyRequest: nil
        }
    }
}

public enum LegalRequestOutcome: String, Sendable, CaseIterable, Codable {
    case pending, complied, partiallyComplied = "partially_complied", rejected, challenged, withdrawn
}

/// A calendar day, `YYYY-MM-DD` (proleptic Gregorian), as legal requests are dated.
public struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    public var description: String {
        let pad = { (value: Int, width: Int) in String(repeating: "0", count: max(0, width - String(value).count)) + String(value) }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (a: CalendarDay, b: CalendarDay) -> Bool { (a.year, a.month, a.day) < (b.year, b.month, b.day) }
}

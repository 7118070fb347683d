import Foundation
import MeridianCore

/// The fields that `PATCH` may change; nil leaves a field as it is.
public struct LegalRequestChanges: Sendable {
    public var accountsAffected: Int?
    public var outcome: LegalRequestOutcome?
    public var gagUntil: CalendarDay?
    public var notes: String?
    public var customerIDs: [String]?
}

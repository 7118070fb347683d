import Foundation
import MeridianCore

/// A customer's signed data processing agreement, with the sub-processor annex as it stood when signed.
public struct DPARecord: Sendable, Hashable {
    public var id: String
    public var customerID: String
    /// The agreement's version, for example `2026-05`.
    public var version: String
    public var signedOn: CalendarDay
    public var signatory: String
    /// Hex SHA-256 of the signed document (the PDF or the countersigned file), which stays with the customer.
    public var documentSHA256: String
    public var annex: [SubProcessor]
    public var createdAt: Date
    public var createdBy: String
}

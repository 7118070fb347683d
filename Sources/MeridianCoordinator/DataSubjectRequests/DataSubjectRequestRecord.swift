import Foundation
import MeridianCore

/// A GDPR or CCPA request as the dpo works it.
public struct DataSubjectRequestRecord: Sendable, Hashable {
    public var id: String
    public var type: DataSubjectRequestType
    public var regulation: Regulation
    public var subject: SubjectIdentity
    public var state: DataSubjectRequestState
    public var receivedAt: Date
    public var dueAt: Date
    public var extended: Bool
    public var extensionReason: String?
    /// `code` (the subject entered the code sent to the address) or `document` (a dpo saw another proof).
    public var verificationMethod: String?
    /// Why it was rejected or cancelled, or how it was completed.
    public var stateReason: String?
    public var notes: String?
    public var createdBy: String
    public var updatedAt: Date
    public var closedAt: Date?

    /// Open past its deadline.
    public func isOverdue(at date: Date) -> Bool { !state.isClosed && dueAt < date }
}

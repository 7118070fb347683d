import Crypto
import Foundation

/// What the coordinator asks every regional node to do for a data-subject request: find (access and
/// portability) or erase the subject's data, keeping what a legal hold covers. Sent signed with the bundle
/// key (``SignedDirective``), so a node acts only on what the coordinator it trusts decided.
public struct DataSubjectDirective: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Codable, CaseIterable {
        /// Return the subject's data, counted and in full.
        case access
        /// Delete the subject's data except what a hold covers; return the counts.
        case erasure
    }

    /// The ticket (`dsr_...`); a node answers a repeated directive again, which erases nothing twice.
    public var requestID: String
    public var action: Action
    public var subject: SubjectIdentity
    /// Customers whose data stays whatever the directive says, each with its reason (an open legal request).
    public var holds: [LegalHold]
    public var issuedAt: Date
    /// A node refuses the directive after this time, so a captured one cannot be replayed later.
    public var expiresAt: Date

    public init(requestID: String, action: Action, subject: SubjectIdentity, holds: [LegalHold], issuedAt: Date, expiresAt: Date) {
        self.requestID = requestID
        self.action = action
        self.subject = subject
        self.holds = holds
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", action, subject, holds, issuedAt = "issued_at", expiresAt = "expires_at"
    }

    /// How long a signed directive holds.
    public static let lifetime: TimeInterval = 15 * 60

    /// The directive for a ticket of `type`; nil for the types a dpo carries out by hand.
    public static func action(for type: DataSubjectRequestType) -> Action? {
        switch type {
        case .access, .portability: .access
        case .erasure: .erasure
        case .rectification, .restriction, .objection: nil
        }
    }
}

extension SubjectIdentity: Codable {
    enum CodingKeys: String, CodingKey { case kind, value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        let value = try container.decode(String.self, forKey: .value)
        guard let identity = kind == "email" ? SubjectIdentity(email: value, customerID: nil)
            : kind == "customer" ? SubjectIdentity(email: nil, customerID: value) : nil
        else {
            throw DecodingError.dataCorruptedError(forKey: .value, in: container, debugDescription: "\(kind) \"\(value)\" is not a subject identity")
        }
        self = identity
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(value, forKey: .value)
    }
}

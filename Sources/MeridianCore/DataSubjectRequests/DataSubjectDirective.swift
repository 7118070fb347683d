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

/// Data that is not erased, and why: it is named in the receipt.
public struct LegalHold: Sendable, Hashable, Codable {
    public var customerID: String
    public var reason: String

    public init(customerID: String, reason: String) {
        self.customerID = customerID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case customerID = "customer_id", reason }
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

/// What one place (a node, or the coordinator itself) found, erased or kept of one class of data.
public struct DataClassCount: Sendable, Hashable, Codable {
    /// `message_metadata`, `delivery_logs`, `spooled_messages` on a node; `account`, `dpas`, ... on the coordinator.
    public var dataClass: String
    public var found: Int
    public var erased: Int
    /// Found and kept under a hold.
    public var held: Int
    /// Why anything was kept; one line per reason.
    public var holdReasons: [String]

    public init(dataClass: String, found: Int = 0, erased: Int = 0, held: Int = 0, holdReasons: [String] = []) {
        self.dataClass = dataClass
        self.found = found
        self.erased = erased
        self.held = held
        self.holdReasons = holdReasons
    }

    enum CodingKeys: String, CodingKey { case dataClass = "data_class", found, erased, held, holdReasons = "hold_reasons" }
}

/// A node's answer to a directive: where it ran, what it counted per data class, and for access the data.
public struct DirectiveReceipt: Sendable, Codable {
    public var requestID: String
    public var action: DataSubjectDirective.Action
    public var region: String
    public var node: String
    public var completedAt: Date
    public var classes: [DataClassCount]
    /// Access only: per data class, the subject's records as JSON.
    public var data: [String: JSONValue]?

    public init(
        requestID: String, action: DataSubjectDirective.Action, region: String, node: String, completedAt: Date, classes: [DataClassCount],
        data: [String: JSONValue]?
    ) {
        self.requestID = requestID
        self.action = action
        self.region = region
        self.node = node
        self.completedAt = completedAt
        self.classes = classes
        self.data = data
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", action, region, node, completedAt = "completed_at", classes, data
    }
}

/// Any JSON value, for data a receipt carries through without the coordinator knowing its shape.
public enum JSONValue: Sendable, Hashable, Codable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Any Encodable value as JSON (dates as RFC 3339).
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let decoder = JSONDecoder()
        self = try decoder.decode(JSONValue.self, from: try encoder.encode(value))
    }

    public var count: Int {
        if case .array(let items) = self { return items.count }
        return 0
    }
}

/// A directive as it travels: its JSON, base64, signed with Ed25519 by the coordinator's bundle key, like a
/// ``SignedBundle``. The node checks the key and the signature before it decodes anything.
public struct SignedDirective: Sendable, Hashable, Codable {
    public var keyID: String
    public var payload: String
    public var signature: String

    enum CodingKeys: String, CodingKey { case keyID = "key_id", payload, signature }

    public static func sign(_ directive: DataSubjectDirective, with key: Curve25519.Signing.PrivateKey) throws -> SignedDirective {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        let bytes = try encoder.encode(directive)
        return SignedDirective(
            keyID: SignedBundle.keyID(of: key.publicKey), payload: bytes.base64EncodedString(),
            signature: try key.signature(for: bytes).base64EncodedString())
    }

    /// The directive, once the key, the signature and the expiry hold at `date`; else a ``CoreError`` saying
    /// which did not.
    public func verify(with key: Curve25519.Signing.PublicKey, at date: Date) throws(CoreError) -> DataSubjectDirective {
        let bytes = try SignedBundle.verifiedBytes(keyID: keyID, payload: payload, signature: signature, with: key, what: "directive")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let directive: DataSubjectDirective
        do {
            directive = try decoder.decode(DataSubjectDirective.self, from: bytes)
        } catch {
            throw CoreError(.directiveMalformed, "the directive does not decode: \(error)")
        }
        guard directive.expiresAt > date else {
            throw CoreError(.directiveExpired, "the directive expired at \(ISOTime.string(directive.expiresAt)); the coordinator sends a fresh one")
        }
        return directive
    }
}

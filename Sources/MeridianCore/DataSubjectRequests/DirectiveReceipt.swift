import Foundation

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
    /// In a signed receipt (``SignedReceipt``), instead of `data`: the SHA-256 (hex) of the records' JSON.
    public var dataSHA256: String?

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
        case dataSHA256 = "data_sha256"
    }
}

/// A processing step that hands customer data to a third party, and so names the sub-processor that runs it
/// (DESIGN.md, "What Meridian does that none of its anchors does", 1).
///
/// Infrastructure steps cannot be switched off for one customer: an objection to their sub-processor is recorded
/// and the remedy is the DPA's (termination). Optional steps are left out of the objecting customer's bundle, and
/// the node does not run them.
public enum ProcessingStep: String, Sendable, CaseIterable, Codable, Hashable, Comparable {
    /// Servers, storage and networks that the nodes and the coordinator run on.
    case hosting
    /// The coordinator's managed PostgreSQL.
    case database
    /// The operators' and customers' web front end.
    case managementWebsite = "management_website"
    /// The node sends a message's subject and text to an analysis service and adds its verdict to the webhook
    /// payload (`meridian.analysis`).
    case contentAnalysis = "content_analysis"

    /// Whether a node can leave the step out for one customer without refusing its mail.
    public var isOptional: Bool { self == .contentAnalysis }

    public var summary: String {
        switch self {
        case .hosting: "hosting of the nodes and the coordinator"
        case .database: "the coordinator's database"
        case .managementWebsite: "the management website"
        case .contentAnalysis: "analysis and content detection of received messages"
        }
    }

    public static func < (a: ProcessingStep, b: ProcessingStep) -> Bool { a.rawValue < b.rawValue }
}

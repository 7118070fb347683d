import MeridianCore

/// Why there is no node token (``CodedError``); the reason names the file.
public typealias NodeTokenError = CodedError<NodeTokenErrorCode>

public enum NodeTokenErrorCode: String, Sendable, CaseIterable {
    /// The token file exists but holds nothing.
    case empty
    /// Neither `MERIDIAN_NODE_TOKEN` nor the file is there, and the caller asked not to create one.
    case missing
}

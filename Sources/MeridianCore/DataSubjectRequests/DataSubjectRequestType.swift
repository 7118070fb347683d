import Foundation

/// What a data subject asks for (GDPR Arts. 15 to 21; the CCPA's rights to know, delete and correct).
public enum DataSubjectRequestType: String, Sendable, CaseIterable, Codable {
    case access, portability, erasure, rectification, restriction, objection

    /// Whether the request is carried out by asking every region (access, portability and erasure fan out).
    public var fansOut: Bool { self == .access || self == .portability || self == .erasure }
}

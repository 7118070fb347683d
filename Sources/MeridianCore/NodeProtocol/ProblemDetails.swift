import Foundation

/// The body of an RFC 9457 problem, as the coordinator's API and a node's control API answer every error.
public struct ProblemDetails: Sendable, Codable, Equatable {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// The input field at fault, as a JSON path (`webhook.url`, `domains[1]`).
    public var field: String?

    public init(type: String = "about:blank", title: String, status: Int, detail: String, field: String? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.field = field
    }

    public static let contentType = "application/problem+json"

    /// The `detail` of a problem answer, or the start of whatever else came, for an error message.
    public static func detail(of body: Data) -> String {
        (try? JSONDecoder().decode(ProblemDetails.self, from: body))?.detail ?? String(decoding: body.prefix(300), as: UTF8.self)
    }
}

import Foundation
import HTTPTypes

/// An RFC 9457 problem: the one shape every API error takes. Handlers throw it; ``ProblemMiddleware`` writes it.
public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var detail: String
    /// The input field at fault, as a JSON path (`webhook.url`, `domains[1]`).
    public var field: String?
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    public var type: String
    /// Seconds after which trying again makes sense (the `Retry-After` header), for a passing outage.
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ detail: String, field: String? = nil, type: String = "about:blank") {
        self.status = status
        self.detail = detail
        self.field = field
        self.type = type
    }

    public var description: String { "\(status.code) \(detail)" }

    // MARK: - The problems the API uses

    public static func invalid(_ field: String, _ detail: String) -> Problem {
        Problem(.unprocessableContent, detail, field: field, type: "https://meridian.example/problems/invalid-field")
    }

    public static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, detail)
    }

    public static func conflict(_ detail: String, field: String? = nil) -> Problem {
        Problem(.conflict, detail, field: field, type: "https://meridian.example/problems/conflict")
    }

    public static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, detail)
    }

    public static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, detail)
    }

    /// The database is away (a restart, a failover): a passing condition, so 503 with `Retry-After`.
    public static func storeUnavailable(_ error: StoreUnavailable) -> Problem {
        let detail =
            switch error.reason {
            case .noConnection: "the coordinator's database is not answering; nothing was changed, try again in a few seconds"
            case .connectionLost:
                "the connection to the coordinator's database was lost during this request; if it was a change, check whether it took effect before trying again"
            }
        var problem = Problem(.serviceUnavailable, detail, type: "https://meridian.example/problems/store-unavailable")
        problem.retryAfter = 5
        return problem
    }

    // MARK: - Wire form

    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var field: String?
    }

    public var jsonBody: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = Body(type: type, title: status.reasonPhrase, status: status.code, detail: detail, field: field)
        return (try? encoder.encode(body)) ?? Data("{}".utf8)
    }
}

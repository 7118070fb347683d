import Foundation
import HTTPTypes
import Hummingbird
import MeridianCore

/// An RFC 9457 problem: the one shape every error takes on the coordinator's API and on a node's control API.
/// Handlers throw it; Hummingbird writes it (it is an `HTTPResponseError`), and each role's middleware turns
/// every other error into one, so no answer is a bare 500 and none carries an error's description unplanned.
public struct Problem: Error, HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
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

    // MARK: - The problems the APIs use

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

    // MARK: - Wire form

    public var body: ProblemDetails {
        ProblemDetails(type: type, title: status.reasonPhrase, status: status.code, detail: detail, field: field)
    }

    public var jsonBody: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(body)) ?? Data("{}".utf8)
    }

    /// The problem+json response, with `Retry-After` when set.
    public var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = ProblemDetails.contentType
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: jsonBody)))
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response
    }
}

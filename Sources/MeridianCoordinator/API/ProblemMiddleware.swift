import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MeridianServer
import OpenAPIRuntime

/// Turns every error into an RFC 9457 problem+json response and never lets a 500 leak details. Also
/// enforces the body size limit and records where the request came from for the audit log.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = CoordinatorRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = RequestOrigin(ip: context.remoteAddress?.ipAddress ?? "-", requestID: context.id)
        do {
            var request = request
            if let length = request.headers[.contentLength].flatMap(Int.init), length > context.maxUploadSize {
                throw Problem(.contentTooLarge, "the request body is \(length) bytes; the limit is \(context.maxUploadSize) bytes")
            }
            // Read whole, for every method: a request run again (``retryingReads(_:_:)``) reads its body again, and
            // a streamed body can be read once only (a GET sent with a Content-Type has its body read too).
            do {
                _ = try await request.collectBody(upTo: context.maxUploadSize)
            } catch let error as HTTPError where error.status == .contentTooLarge {
                throw Problem(.contentTooLarge, "the request body is over the limit of \(context.maxUploadSize) bytes")
            }
            return try await RequestOrigin.$current.withValue(origin) {
                try await Self.retryingReads(request) { try await next(request, context) }
            }
        } catch {
            let problem = Self.problem(for: error)
            if problem.status.code >= 500 {
                // Only the underlying error: a ServerError's description includes the request headers,
                // bearer token included, and secrets never go to the log.
                let underlying = (error as? ServerError)?.underlyingError ?? error
                context.logger.error(problem.status == .serviceUnavailable ? "request failed: database unavailable" : "request failed", metadata: [
                    "operation": "\((error as? ServerError)?.operationID ?? "-")", "error": "\(String(reflecting: underlying))",
                ])
            }
            return Self.response(problem)
        }
    }

    /// A request whose database connection went mid-request (PostgreSQL restarting, a failover) is run again,
    /// twice at most, when that is safe: a GET or HEAD always (an audited read at worst records the read twice), a
    /// change only when its transaction was stopped before its COMMIT (nothing was changed; its body was read
    /// whole before). A change whose COMMIT was sent gets the 503 that says its outcome is unknown.
    static func retryingReads(_ request: Request, _ handle: () async throws -> Response) async throws -> Response {
        let read = request.method == .get || request.method == .head
        var tries = 0
        while true {
            do {
                return try await handle()
            } catch where tries < 2 && (read ? isLostConnection(error) : isNotCommitted(error)) {
                tries += 1
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private static func isLostConnection(_ error: any Error) -> Bool {
        let error = (error as? ServerError)?.underlyingError ?? error
        return [.storeConnectionLost, .storeNotCommitted].contains((error as? CoordinatorError)?.code)
    }

    private static func isNotCommitted(_ error: any Error) -> Bool {
        let error = (error as? ServerError)?.underlyingError ?? error
        return (error as? CoordinatorError)?.code == .storeNotCommitted
    }

    static func response(_ problem: Problem) -> Response {
        problem.response
    }

    /// Maps what handlers, the generated OpenAPI layer and Hummingbird throw to a problem with a useful detail.
    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let server as ServerError:
            if let problem = server.underlyingError as? Problem { return problem }
            if let decoding = server.underlyingError as? DecodingError { return problem(for: decoding) }
            if server.httpStatus.code < 500 {
                return Problem(server.httpStatus, server.causeDescription)
            }
            return problem(for: server.underlyingError)
        case let decoding as DecodingError:
            return problem(for: decoding)
        case let http as HTTPError:
            return Problem(http.status, http.body ?? http.status.reasonPhrase)
        case let error as CoordinatorError where error.isStoreUnavailable:
            return .storeUnavailable(error)
        case let repository as RepositoryError:
            switch repository {
            case .notFound(let id): return .notFound("no resource with id \(id)")
            case .domainTaken(let domain):
                return .conflict("the domain \(domain) already belongs to another customer", field: "domains")
            case .conflict(let detail): return .conflict(detail)
            }
        default:
            return Problem(.internalServerError, "the coordinator failed to handle this request; the error is in its log")
        }
    }

    static func problem(for error: DecodingError) -> Problem {
        func path(_ keys: [any CodingKey]) -> String {
            keys.reduce(into: "") { path, key in
                if let index = key.intValue { path += "[\(index)]" } else { path += path.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return Problem(.badRequest, "the required field \(field) is missing", field: field)
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return Problem(.badRequest, "the field \(field.isEmpty ? "(body)" : field) must be \(describe(type))", field: field.isEmpty ? nil : field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if context.debugDescription.hasPrefix("Additional properties are disabled") {
                return Problem(.badRequest, "unknown field \(field); see docs/openapi.yaml for the fields this operation takes", field: field)
            }
            if context.codingPath.isEmpty {
                return Problem(.badRequest, "the body is not valid JSON")
            }
            return Problem(.badRequest, "the field \(field) has a value that is not allowed: \(context.debugDescription)", field: field)
        @unknown default:
            return Problem(.badRequest, "the body does not match the schema")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        default: "\(type)".contains("Array") ? "an array" : "an object or value of type \(type)"
        }
    }
}

extension Problem {
    /// The database is away (a restart, a failover): a passing condition, so 503 with `Retry-After`.
    static func storeUnavailable(_ error: CoordinatorError) -> Problem {
        let detail =
            error.code == .storeNoConnection || error.code == .storeNotCommitted
            ? "the coordinator's database is not answering; nothing was changed, try again in a few seconds"
            : "the connection to the coordinator's database was lost during this request; if it was a change, check whether it took effect before trying again"
        var problem = Problem(.serviceUnavailable, detail, type: "https://meridian.example/problems/store-unavailable")
        problem.retryAfter = 5
        return problem
    }
}

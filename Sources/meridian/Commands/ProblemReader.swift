import Foundation
import HTTPTypes
import MeridianCore
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// Turns any 4xx/5xx answer into an ``APIProblem`` carrying the problem's detail.
struct ProblemReader: ClientMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.code >= 400 else { return (response, responseBody) }
        var detail = response.status.reasonPhrase
        var field: String?
        if let responseBody, let data = try? await Data(collecting: responseBody, upTo: 1 << 20),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            detail = object["detail"] as? String ?? detail
            field = object["field"] as? String
        }
        throw APIProblem(status: response.status.code, detail: detail, field: field)
    }
}

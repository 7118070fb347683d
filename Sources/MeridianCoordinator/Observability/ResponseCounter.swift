import Foundation
import Hummingbird
import MeridianCore

/// Counts every answer, after the problem middleware has turned errors into answers.
struct ResponseCounter<Context: RequestContext>: RouterMiddleware {
    let counts: ResponseCounts

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            counts.record(response.status.code)
            return response
        } catch let error as HTTPError {
            counts.record(error.status.code)
            throw error
        } catch {
            counts.record(500)
            throw error
        }
    }
}

import Hummingbird
import MeridianServer

/// The node port's errors as problem+json, mapped as the admin API maps them (``ProblemMiddleware``).
struct NodeLinkProblemMiddleware: RouterMiddleware {
    typealias Context = LinkRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = ProblemMiddleware.problem(for: error)
            if problem.status.code >= 500 {
                context.logger.error("node link: request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            }
            return problem.response
        }
    }
}

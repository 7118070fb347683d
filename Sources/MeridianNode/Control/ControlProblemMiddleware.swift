import Hummingbird
import MeridianCore
import MeridianServer

/// Turns what the control API's handlers throw into problem+json: a ``Problem`` as it is, a refused directive
/// as 422 with its reason, Hummingbird's own errors (unknown route, wrong method, body too large) with their
/// status. Anything else is logged and answered 503 without its description, which stays in the log.
struct ControlProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            return problem.response
        } catch let error as CoreError {
            // A directive's signature, key or expiry: the reason is written for the coordinator's operator.
            return Problem(.unprocessableContent, "directive refused: \(error.reason)").response
        } catch let error as HTTPError {
            return Problem(error.status, error.body ?? error.status.reasonPhrase).response
        } catch {
            context.logger.error("control API: a request failed", metadata: ["error": "\(error)"])
            return Problem(.serviceUnavailable, "the node could not answer; the error is in its log").response
        }
    }
}

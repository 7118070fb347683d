import Foundation
import HTTPTypes
import MeridianCore
import MeridianServer
import OpenAPIRuntime

/// Resolves the bearer token of each admin-API request and applies ``AuthorizationPolicy`` before the handler
/// runs. Per-account rules (own account, support grants) are checked here for every operation with a
/// `customer_id` in its path; list operations filter by the caller in their handler.
struct AuthenticationMiddleware: ServerMiddleware {
    let tokens: any TokenRepository
    let grants: any AccessGrantRepository
    let now: @Sendable () -> Date

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if AuthorizationPolicy.publicOperations.contains(operationID) {
            return try await next(request, body, metadata)
        }
        let caller = try await authenticate(request)
        guard let access = AuthorizationPolicy.access(caller.role, to: operationID) else {
            throw Problem.forbidden("a \(caller.role.rawValue) token may not call \(operationID)")
        }
        if let customerID = metadata.pathParameters["customer_id"].map(String.init) {
            switch access {
            case .allowed:
                break
            case .ownAccount:
                guard caller.token.customerID == customerID else {
                    throw Problem.forbidden("a customer token may act on its own account only")
                }
            case .withGrant:
                guard try await grants.customersGranting(caller.role.rawValue, at: now()).contains(customerID) else {
                    throw Problem.forbidden("\(customerID) has not given \(caller.role.rawValue) an active access grant")
                }
            }
        }
        return try await Caller.$current.withValue(caller) {
            try await next(request, body, metadata)
        }
    }

    private func authenticate(_ request: HTTPRequest) async throws -> Caller {
        guard let header = request.headerFields[.authorization] else {
            throw Problem.unauthorized("send Authorization: Bearer <token>")
        }
        let parts = header.utf8.split(separator: UInt8(ascii: " "), maxSplits: 1)
        guard parts.count == 2, String(decoding: parts[0], as: UTF8.self).lowercased() == "bearer" else {
            throw Problem.unauthorized("the Authorization header must be Bearer <token>")
        }
        // Blanks around the token are dropped; a token has none inside (`isWellFormed`).
        var token = parts[1]
        let blank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        while let first = token.first, blank(first) { token.removeFirst() }
        while let last = token.last, blank(last) { token.removeLast() }
        let secret = String(decoding: token, as: UTF8.self)
        guard BearerToken.isWellFormed(secret), let token = try await tokens.find(secretHash: BearerToken.hash(of: secret)) else {
            throw Problem.unauthorized("the bearer token is not valid")
        }
        guard token.isActive(at: now()) else {
            throw Problem.unauthorized(token.revokedAt != nil ? "the bearer token was revoked" : "the bearer token has expired")
        }
        return Caller(token: token, ip: RequestOrigin.current.ip)
    }
}

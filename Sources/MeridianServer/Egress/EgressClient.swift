import AsyncHTTPClient
import Foundation
import Logging
import MeridianCore
import NIOCore
import ServiceLifecycle
import Synchronization

/// The HTTP client of every request made for a customer: webhooks, the content-analysis step, the
/// coordinator's webhook events. Each request is held to the deployment's ``EgressPolicy`` twice: its URL
/// before anything is sent (scheme, a host written as an address in any form, private names), and the address
/// it resolves to when the connection is made, inside ``EgressProxy``. Redirects are never followed.
///
/// As a `Service` it lives as long as the role's other services and closes its connections when they end.
public final class EgressClient: Service, Sendable {
    public let http: HTTPClient
    private let proxy: EgressProxy
    private let policy: @Sendable () -> EgressPolicy
    private let isShutDown = Mutex(false)

    /// Starts the proxy and the client; `configuration` gives timeouts and pool sizes (its redirect and proxy
    /// settings are replaced). `policy` is asked on every request: the node's follows the config in force.
    public static func start(
        configuration: HTTPClient.Configuration = .init(), policy: @escaping @Sendable () -> EgressPolicy, logger: Logger
    ) async throws -> EgressClient {
        try await start(configuration: configuration, policy: policy, resolve: HostResolver.addresses(of:), logger: logger)
    }

    /// The same with another resolver than the system's: a test's that rebinds.
    static func start(
        configuration given: HTTPClient.Configuration, policy: @escaping @Sendable () -> EgressPolicy,
        resolve: @escaping @Sendable (String) throws -> [IPAddress], logger: Logger
    ) async throws -> EgressClient {
        let proxy = try await EgressProxy.start(policy: policy, resolve: resolve, logger: logger)
        var configuration = given
        // A POST must not turn into a GET elsewhere, and a redirect must not lead past the checks.
        configuration.redirectConfiguration = .disallow
        // The client's only connection is to the proxy on loopback; the proxy has already tried every allowed address
        // of the customer's host when it answers 502 or 403. Retrying that CONNECT until the connect timeout made a
        // refused connection cost the whole timeout; failing at once leaves the retry to the caller's backoff.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.proxy = .server(
            host: "127.0.0.1", port: proxy.port, authorization: .basic(username: proxy.credentials.user, password: proxy.credentials.password))
        return EgressClient(http: HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration), proxy: proxy, policy: policy)
    }

    private init(http: HTTPClient, proxy: EgressProxy, policy: @escaping @Sendable () -> EgressPolicy) {
        self.http = http
        self.proxy = proxy
        self.policy = policy
    }

    /// Sends `request`; throws ``EgressRefusal`` when the policy refuses its URL or every address its host
    /// resolves to, ``EgressConnectFailure`` when no connection could be made, and the client's own errors
    /// otherwise.
    public func execute(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> HTTPClientResponse {
        if let refusal = policy().refusal(forURL: request.url) { throw refusal }
        guard let components = URLComponents(string: request.url), let host = components.host else {
            throw EgressRefusal(.malformed, "not an absolute URL with a host")
        }
        let port = components.port ?? (components.scheme?.lowercased() == "http" ? 80 : 443)
        try await proxy.precheck(host: host, port: port)
        do {
            return try await http.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .invalidProxyResponse {
            throw proxy.failure(host: host, port: port) ?? error
        }
    }

    /// Waits until graceful shutdown or cancellation, then closes the client and the proxy.
    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Closes the client's connections and the proxy; a second call does nothing.
    public func shutdown() async throws {
        let first = isShutDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try await http.shutdown()
        await proxy.close()
    }
}

/// No connection to a customer's endpoint could be made: the name does not resolve, or every address allowed
/// refused or did not answer. Worth another try, unlike an ``EgressRefusal``.
public struct EgressConnectFailure: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

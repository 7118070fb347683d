import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import ServiceLifecycle
import Synchronization

/// The production store: a pool of PostgreSQL connections (PostgresClient), which must be running as a
/// service for queries to go through.
public struct PostgresStore: SQLStore, Service {
    public let kind = StoreKind.postgres
    public let client: PostgresClient

    public init(_ location: DatabaseLocation.PostgresLocation, logger: Logger) throws {
        let tls: PostgresClient.Configuration.TLS =
            location.requireTLS ? .require(.makeClientConfiguration()) : .disable
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        configuration.options.minimumConnections = 1
        let losses = LossMark()
        self.losses = losses
        // The pool's own log tells when it could not connect (the server restarting): a loss too.
        let inner = logger.handler
        let background = Logger(label: logger.label) { _ in PoolLossWatcher(inner: inner, losses: losses) }
        self.client = PostgresClient(configuration: configuration, backgroundLogger: background)
    }

    public func run() async throws {
        await client.run()
    }

    /// How long a query waits while PostgreSQL is away (a restart, a failover) before its caller gets
    /// a store-unavailable ``CoordinatorError``, which the API answers with a 503 and `Retry-After` rather than hanging.
    public var connectionWait: Duration = .seconds(10)
    /// The longest one session may run before its caller is answered a store-unavailable ``CoordinatorError`` (see `leased`).
    public var sessionLimit: Duration = .seconds(60)
    /// How long a session may go without an answer when a loss (another session's connection lost, or the
    /// pool failing to connect) was seen since shortly before it began: a restart ends every connection at
    /// once, so then it is answered as lost too.
    public var stallLimit: Duration = .seconds(2)
    /// When a session last saw its connection lost, or the pool failed to connect; shared by every session.
    let losses: LossMark

    /// Runs `body` on a pooled connection. A body that never got a connection is tried again until
    /// `connectionWait` is up; so is, once, a body whose session PostgreSQL itself ended (a fast shutdown
    /// rolls back what was in flight). A connection lost any other way is a store-unavailable ``CoordinatorError``: whether the
    /// last statement took effect is unknown, so it is not repeated.
    public func withSession<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let deadline = ContinuousClock.now + connectionWait
        var repeated = false
        while true {
            let started = StartFlag()
            do {
                return try await leased(until: deadline, started: started, body)
            } catch let error as PSQLError where Self.lostConnection(error) {
                losses.mark()
                let ranBody = started.isSet
                let retry = !ranBody || (!repeated && Self.endedByServer(error))
                guard retry, ContinuousClock.now < deadline else {
                    let underlying = String(reflecting: error)
                    throw ranBody ? CoordinatorError.storeConnectionLost(underlying: underlying) : .storeNoConnection(underlying: underlying)
                }
                repeated = repeated || ranBody
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// `body` on a connection from the pool, or a store-unavailable ``CoordinatorError`` if none comes before `deadline`, or if the
    /// body is still running `sessionLimit` after it began. The second is a safety net: a statement sent on a
    /// connection the server has just ended can wait for ever in the driver, and an API request must not.
    /// Such a statement is usually caught sooner: a session with no answer `stallLimit` after it began, when a
    /// loss was seen since shortly before it began, is answered as lost too, which lets the API run a read
    /// again at once.
    private func leased<R: Sendable>(
        until deadline: ContinuousClock.Instant, started: StartFlag, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R
    ) async throws -> R {
        let outcome = SessionOutcome<R>()
        let client = client
        let limit = sessionLimit
        let stall = stallLimit
        let losses = losses
        return try await withCheckedThrowingContinuation { continuation in
            outcome.waiting(continuation)
            let work = Task {
                do {
                    let result = try await client.withConnection { connection in
                        started.set()
                        return try await body(connection.sql())
                    }
                    outcome.finish(.success(result))
                } catch {
                    outcome.finish(.failure(error))
                }
            }
            outcome.watch(
                Task {
                    while true {
                        try await Task.sleep(for: .milliseconds(250))
                        let now = ContinuousClock.now
                        guard let began = started.at else {
                            if now < deadline { continue }
                            // The answer first: the cancelled work's own error (the pool's requestCancelled) must not win.
                            outcome.finish(.failure(CoordinatorError.storeNoConnection(underlying: nil)))
                            work.cancel()
                            return
                        }
                        if now >= began + stall, let lost = losses.last, lost >= began - stall {
                            outcome.finish(.failure(CoordinatorError.storeConnectionLost(
                                underlying: "no answer \(stall) after the session began, and the connection was lost meanwhile")))
                            return
                        }
                        if now >= began + limit {
                            outcome.finish(.failure(CoordinatorError.storeConnectionLost(underlying: "no answer \(limit) after the session began")))
                            return
                        }
                    }
                })
        }
    }

    /// The connection is gone or could not be made: the server is down, restarting or unreachable.
    static func lostConnection(_ error: PSQLError) -> Bool {
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection: return true
        case .server: return endedByServer(error) || error.serverInfo?[.sqlState]?.hasPrefix("08") == true
        default: return false
        }
    }

    /// PostgreSQL ended the session itself (SQLSTATE 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot
    /// connect now): the statement in flight was rolled back.
    static func endedByServer(_ error: PSQLError) -> Bool {
        // The FATAL message is the error itself, or under a closed-connection error that carries it.
        let server = error.serverInfo == nil ? (error.underlying as? PSQLError) : error
        guard let state = server?.serverInfo?[.sqlState] else { return false }
        return ["57P01", "57P02", "57P03"].contains(state)
    }
}

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
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    public func run() async throws {
        await client.run()
    }

    /// How long a query waits while PostgreSQL is away (a restart, a failover) before its caller gets
    /// ``StoreUnavailable``, which the API answers with a 503 and `Retry-After` rather than hanging.
    public var connectionWait: Duration = .seconds(10)

    /// Runs `body` on a pooled connection. A body that never got a connection is tried again until
    /// `connectionWait` is up; so is, once, a body whose session PostgreSQL itself ended (a fast shutdown
    /// rolls back what was in flight). A connection lost any other way is ``StoreUnavailable``: whether the
    /// last statement took effect is unknown, so it is not repeated.
    public func withSession<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let deadline = ContinuousClock.now + connectionWait
        var repeated = false
        while true {
            let started = StartFlag()
            do {
                return try await leased(until: deadline, started: started, body)
            } catch let error as PSQLError where Self.lostConnection(error) {
                let ranBody = started.isSet
                let retry = !ranBody || (!repeated && Self.endedByServer(error))
                guard retry, ContinuousClock.now < deadline else {
                    throw StoreUnavailable(ranBody ? .connectionLost : .noConnection, underlying: String(reflecting: error))
                }
                repeated = repeated || ranBody
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// `body` on a connection from the pool, or ``StoreUnavailable`` if none comes before `deadline`. Once
    /// the body has started, it runs to its end however long it takes.
    private func leased<R: Sendable>(
        until deadline: ContinuousClock.Instant, started: StartFlag, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R
    ) async throws -> R {
        try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                try await client.withConnection { connection in
                    started.set()
                    return try await body(connection.sql())
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline)
                if !Task.isCancelled && !started.isSet { throw StoreUnavailable(.noConnection, underlying: nil) }
                return nil
            }
            while let finished = try await group.next() {
                if let result = finished {
                    group.cancelAll()
                    return result
                }
            }
            throw CancellationError()
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

/// Whether a session's body got its connection and began: only a body that never began is safe to run again
/// whatever went wrong.
final class StartFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

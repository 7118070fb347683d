import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import ServiceLifecycle

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

    public func withSession<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await client.withConnection { connection in
            try await body(connection.sql())
        }
    }
}

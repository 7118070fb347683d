import Crypto
import Foundation
import Logging
import MeridianCore
import PostgresNIO
import SQLKit
import Testing

@testable import MeridianCoordinator

/// Runs coordinator tests against real databases: a temporary SQLite file, and the PostgreSQL server named by
/// `MERIDIAN_TEST_POSTGRES_URL` (scripts/test starts a throwaway cluster and sets it). Each PostgreSQL test
/// gets a database of its own. Under CI=true a missing PostgreSQL fails the test instead of skipping it.
enum TestStores {
    static let logger = Logger(label: "meridian.tests")
    static let postgresURL = ProcessInfo.processInfo.environment["MERIDIAN_TEST_POSTGRES_URL"]
    static let requirePostgres = ProcessInfo.processInfo.environment["CI"] == "true"
    static let regions = try! RegionCatalog.load(directory: repositoryRoot + "/Regions")
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs `body` with a freshly migrated store of `kind`.
    static func withStore(_ kind: StoreKind, _ body: @escaping @Sendable (any SQLStore) async throws -> Void) async throws {
        switch kind {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("meridian-test-\(UUID()).sqlite").path
            let store = try await SQLiteStore.open(path: path, logger: logger)
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            try await Migrations.run(on: store, logger: logger)
            try await body(store)
            try await store.close()
        case .postgres:
            guard let url = postgresURL else {
                if requirePostgres { Issue.record("CI=true but MERIDIAN_TEST_POSTGRES_URL is not set: PostgreSQL tests must run") }
                return
            }
            guard case .postgres(var location) = try DatabaseLocation(parsing: url) else { return }
            let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try await withAdmin(location) { try await $0.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
            location.database = name
            let store = try PostgresStore(location, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await store.run() }
                try await Migrations.run(on: store, logger: logger)
                try await body(store)
                group.cancelAll()
            }
            try await withAdmin(location) { try await $0.raw("DROP DATABASE \(unsafeRaw: name) WITH (FORCE)").run() }
            PostgresRunLog.record()
        }
    }

    /// Runs `body` with a store on an existing PostgreSQL database.
    static func withPostgres<R: Sendable>(
        _ location: DatabaseLocation.PostgresLocation, _ body: @escaping @Sendable (any SQLStore) async throws -> R
    ) async throws -> R {
        let store = try PostgresStore(location, logger: logger)
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask { try await store.run(); return nil }
            let result = try await body(store)
            group.cancelAll()
            return result
        }
    }

    static func withAdmin(_ location: DatabaseLocation.PostgresLocation, _ body: @escaping @Sendable (any SQLDatabase) async throws -> Void) async throws {
        var admin = location
        admin.database = "postgres"
        let store = try PostgresStore(admin, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            try await store.withSession(body)
            group.cancelAll()
        }
    }

    /// A coordinator over `store`, built as `meridian coordinator` builds one, with fixed keys, a clock the test
    /// can move, a data directory of its own, and jobs that wait an hour before their first pass (a test runs
    /// a job's pass itself when it means to).
    static func coordinator(_ store: any SQLStore, clock: TestClock = TestClock(), egress: EgressPolicy = .production) async throws -> Coordinator {
        let directory = NSTemporaryDirectory() + "meridian-coordinator-\(UUID().uuidString)"
        var configuration = CoordinatorConfiguration(database: .sqlite(path: directory + "/unused.sqlite"), dataDirectory: directory)
        configuration.regionsDirectory = repositoryRoot + "/Regions"
        configuration.keys = .given(keys)
        // DNS checks go to a port where nothing answers, so they fail fast instead of asking the machine's resolver.
        configuration.resolver = DNSResolver(host: "127.0.0.1", port: 9, timeout: .milliseconds(100))
        configuration.outboxInterval = .seconds(3600)
        configuration.nodeLink.port = 0
        configuration.now = { clock.now }
        configuration.egress = egress
        // bcrypt's lowest cost: the tests sign in many times; production's 12 is covered by the system tests.
        configuration.passwordCost = 4
        return try await Coordinator.build(configuration, store: store, logger: logger)
    }

    static let keys = CoordinatorKeys(
        secrets: SecretBox(keyBytes: Data(repeating: 7, count: 32))!, bundleSigning: bundleKey, publicationSigning: publicationKey,
        authority: authority)
    static let authority = try! NodeAuthority.make(zone: regions.service.dnsZone)
    /// The coordinator's side of the node link, with a certificate of ``authority``'s coordinator CA.
    static let linkCredentials = try! authority.coordinatorCredentials(hosts: ["127.0.0.1", "localhost"], at: Date())
    static let bundleKey = Curve25519.Signing.PrivateKey()
    static let publicationKey = Curve25519.Signing.PrivateKey()
}

/// Counts test bodies that ran to the end against PostgreSQL, one line each in the file named by
/// `MERIDIAN_TEST_POSTGRES_LOG`; scripts/test prints the count so CI shows PostgreSQL really ran.
enum PostgresRunLog {
    static func record() {
        guard let path = ProcessInfo.processInfo.environment["MERIDIAN_TEST_POSTGRES_LOG"] else { return }
        // O_APPEND makes each short write atomic, so tests running in parallel do not lose lines.
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { return }
        _ = "ran\n".withCString { write(fd, $0, 4) }
        close(fd)
    }
}

/// A settable clock for retention and expiry tests.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_790_000_000)

    var now: Date { lock.withLock { current } }
    func advance(days: Double) { lock.withLock { current = current.addingTimeInterval(days * 86_400) } }
}

extension NodeRepository {
    /// A node enrolled and joined with a made-up key and certificate serial, for tests that need a node the
    /// coordinator sends to.
    @discardableResult
    func joined(_ id: String, region: String, controlURL: String, serial: String = UUID().uuidString) async throws -> NodeRecord {
        let enrolled = try await enroll(
            id, region: RegionID(region)!, controlURL: controlURL, pinning: String(repeating: "0", count: 64), by: .system("test"), at: Date())
        return try await join(
            tokenHash: enrolled.token.hash, publicKey: "test", serial: serial, expiresAt: Date().addingTimeInterval(86_400), sourceIP: "-",
            at: Date())!
    }
}

import Foundation
import MeridianCore
import MeridianSmarthost

/// Everything `meridian coordinator` needs to start, with the defaults of `meridian up`.
public struct CoordinatorConfiguration: Sendable {
    /// Address the HTTP server binds; loopback by default.
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// `sqlite:PATH` or `postgres://...`.
    public var database: DatabaseLocation
    /// Holds `master.key` (encrypts secrets at rest) and `admin-token` (the first admin token).
    public var dataDirectory: String
    /// The Regions/ directory with service.yaml and one file per region.
    public var regionsDirectory: String = "Regions"
    /// How often the retention job looks for closed accounts due for purge.
    public var retentionInterval: Duration = .seconds(3600)
    /// The node token nodes present to pull bundles and report; the coordinator presents it to push.
    public var nodeToken: String?
    /// The resolver DNS checks ask.
    public var resolver: DNSResolver = .system()
    /// Where notices to customers (new sub-processors) are relayed; without one they wait in the outbox.
    public var smarthost: Smarthost?
    /// The name the coordinator gives in EHLO and Message-IDs.
    public var hostname: String = "coordinator.localhost"
    /// How often the outbox job looks for notifications due, and the directive job for GDPR directives to send.
    public var outboxInterval: Duration = .seconds(5)
    /// Seed the demo sub-processors from the source policies into an empty registry (`meridian up`).
    public var seedDemoRegistry = false
    /// Days a new sub-processor is announced before it takes effect.
    public var noticeDays = 30
    /// Where the backup job writes encrypted backups of the database; nil runs no backup job.
    public var backupDirectory: String?
    /// How often the backup job runs.
    public var backupInterval: Duration = .seconds(86_400)

    public init(database: DatabaseLocation, dataDirectory: String) {
        self.database = database
        self.dataDirectory = dataDirectory
    }
}

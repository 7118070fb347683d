import Crypto
import Foundation
import MeridianCore
import MeridianSmarthost

/// Everything the coordinator is built from (``Coordinator/build(_:store:logger:)``), with the defaults of
/// `meridian up`. `meridian coordinator` fills it from its flags; tests fill it themselves.
public struct CoordinatorConfiguration: Sendable {
    /// Address the HTTP server binds; loopback by default.
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// `sqlite:PATH` or `postgres://...`.
    public var database: DatabaseLocation
    /// Holds `master.key` (encrypts secrets at rest), the signing keys, the certificate authorities and `admin-token`.
    public var dataDirectory: String
    /// The Regions/ directory with service.yaml and one file per region.
    public var regionsDirectory: String = "Regions"
    /// Where the master key and the signing keys come from.
    public var keys: KeySource = .dataDirectory
    /// The node port: the TLS listener nodes join, renew, pull and report on, with their certificates.
    public var nodeLink = NodeLinkListener()
    /// How often the retention job looks for closed accounts due for purge, and the publications job checks.
    public var retentionInterval: Duration = .seconds(3600)
    /// The resolver DNS checks ask.
    public var resolver: DNSResolver = .system()
    /// Where notices to customers (new sub-processors) are relayed; without one they wait in the outbox.
    public var smarthost: Smarthost?
    /// Where people reach the coordinator's pages (`https://meridian.example.com`), for the links in invitation
    /// e-mails; nil means `http://HOST:PORT`.
    public var publicURL: String?
    /// The OpenID Connect provider people may sign in with, besides their password; nil for none.
    public var oidc: OIDCSettings?
    /// bcrypt's cost for dashboard passwords (tests lower it).
    public var passwordCost: UInt8 = 12
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
    /// How long changes gather before they become one config version.
    public var publishDebounce: Duration = .milliseconds(2)
    /// This replica's name among the coordinators sharing the database (`--replica`); nil: ``replicaName``'s
    /// default.
    public var replica: String?
    /// How long the leader's lease lasts without renewal (``Leadership``): a dead leader is replaced within it
    /// and a sixth more.
    public var leaderLease: Duration = .seconds(3)
    /// Where requests made for customers may go, checked when a webhook URL is set and compiled into every
    /// bundle for the nodes: production's `https` to public addresses unless the operator allows more
    /// (`--webhook-allow-http`, `--webhook-allow-network`); `meridian up` allows loopback.
    public var egress: EgressPolicy = .production
    /// How long the first admin token lasts: long enough to create named admin tokens, not to be kept.
    /// `meridian up` gives it 30 days.
    public var firstAdminTokenLifetime: TimeInterval = 72 * 3600
    /// How old the newest audit checkpoint may get while the log grows (one is also signed every 1000 entries).
    public var auditCheckpointInterval: TimeInterval = 300
    /// How often the domain-proof job runs; pending and suspended domains are checked every run.
    public var domainCheckInterval: Duration = .seconds(3600)
    /// How long after its last check a verified domain's ownership record is checked again.
    public var domainRecheckAfter: TimeInterval = 86_400
    /// How long a verified domain's record may be missing before the domain is suspended.
    public var domainGrace: TimeInterval = 72 * 3600
    /// `meridian up` only: domains under the reserved test names (`.test`, `.example`, `.invalid`, `.localhost`)
    /// count as proved, so the tour works without DNS. Never in production.
    public var provesReservedTestNames = false
    /// The coordinator's clock: deadlines, expiries, retention. Tests set it.
    public var now: @Sendable () -> Date = Date.init

    /// Where the coordinator's keys come from.
    public enum KeySource: Sendable {
        /// `MERIDIAN_MASTER_KEY` or `DATA-DIR/master.key`, and the signing keys sealed under it in DATA-DIR,
        /// each created on first start.
        case dataDirectory
        /// Keys given as they are (tests).
        case given(CoordinatorKeys)
    }

    /// The base of links to the coordinator's pages, without a trailing slash.
    public var pagesURL: String {
        guard var url = publicURL else { return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)" }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The name the leader's lease and claimed work items carry: `--replica`, else `HOST:PORT` (the host's name
    /// and the API's port), unique among replicas on one machine or on several.
    public var replicaName: String {
        replica ?? "\(ProcessInfo.processInfo.hostName):\(port)"
    }

    public init(database: DatabaseLocation, dataDirectory: String) {
        self.database = database
        self.dataDirectory = dataDirectory
    }

    /// Where the node port listens, and the names nodes reach it by, which its certificate carries.
    public struct NodeLinkListener: Sendable {
        public var host = "127.0.0.1"
        public var port = 8443
        /// Host names and addresses in the coordinator's certificate; a node checks the host of its
        /// `--coordinator` URL against them.
        public var hostnames = ["localhost", "127.0.0.1", "::1"]

        public init() {}
    }
}

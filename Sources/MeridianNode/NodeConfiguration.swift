import Crypto
import Foundation
import MeridianCore
import MeridianSmarthost

/// Everything a regional node is built from (``RegionalNode/build(_:registry:logger:)``). `meridian node` and
/// `meridian up` fill it from their flags; tests fill it themselves.
public struct NodeConfiguration: Sendable {
    public var region: Region
    public var nodeID: String
    public var smtp: SMTPServerConfiguration
    /// The control API's listener (mutual TLS; only the coordinator's certificate is let in). Without a port,
    /// the port of the control URL the node was enrolled with (else 9101); 0 picks a free port.
    public var controlHost = "127.0.0.1"
    public var controlPort: Int?
    /// The probe port's listener (plain HTTP: `/healthz`, `/metrics`, `/v1/status`); without a port, the
    /// control port plus 10.
    public var probeHost = "127.0.0.1"
    public var probePort: Int?
    /// Holds the metadata store (`metadata.sqlite`) and, by default, the spool.
    public var dataDirectory: String
    public var spoolDirectory: String
    /// The local bundle file (the shape of a config bundle), re-read when it changes.
    public var bundlePath: String
    /// Where the node's enrollment is kept (``NodeEnrollment``): its key and certificate, the two CAs and the
    /// coordinator's bundle-signing key, the only one whose bundles and directives it applies.
    public var identityDirectory: String
    /// A one-time join token: the node joins with it when it has no enrollment, or one made with another token.
    public var joinToken: JoinToken?
    /// Where the last bundle applied is kept, to start from when the bundle file is unusable.
    public var lastKnownGoodPath: String { (dataDirectory as NSString).appendingPathComponent("bundle.last-good.json") }
    public var metadataPath: String { (dataDirectory as NSString).appendingPathComponent("metadata.sqlite") }
    /// PEM files for STARTTLS; no STARTTLS without them.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var smarthost: Smarthost?
    /// The analysis service of the `content_analysis` step; it runs only where the config in force allows it.
    public var analysisURL: String?
    /// Whether the node checks SPF, DKIM and DMARC for each message (on unless turned off).
    public var authenticatesSenders = true
    /// The recursive resolver sender authentication asks, `HOST[:PORT]`; nil takes /etc/resolv.conf's first.
    public var dnsResolver: String?
    /// The Public Suffix List DMARC finds organizational domains with (the project ships
    /// `Regions/public_suffix_list.dat`); nil leaves only the list's default rule, that the last label is the suffix.
    public var publicSuffixListPath: String?
    /// rspamd's normal worker (`http://127.0.0.1:11333`) and clamd (`127.0.0.1:3310`), beside the node in the
    /// region; a scanner that is not configured is `not_run`.
    public var rspamdURL: String?
    public var clamdAddress: String?
    /// How long each scanner may take per message before the scan counts as failed.
    public var scanTimeout: Duration = .seconds(15)
    public var deliveryConcurrency = 64
    /// How long a webhook has to answer.
    public var webhookTimeout: Duration = .seconds(30)
    public var retentionInterval: Duration = .seconds(3600)
    /// The coordinator's node port (`https://HOST:8443`), or one per replica: where the node joins, pulls bundles
    /// and reports, and renews its certificate, trying the next when one does not answer (`CoordinatorEndpoints`).
    /// Empty runs from the bundle file alone (which must still be signed with the enrollment's bundle key).
    public var coordinatorURLs: [String] = []
    /// How often the node pulls to reconcile, besides the coordinator's pushes.
    public var pullInterval: Duration = .seconds(30)
    /// How often the node checks whether its certificate is due for renewal.
    public var renewalCheckInterval: Duration = .seconds(60)
    /// The node's wall clock: receipt times, retention cut-offs, queue lifetimes. Tests set it.
    public var now: @Sendable () -> Date = Date.init

    public init(region: Region, nodeID: String, dataDirectory: String, hostname: String) {
        self.region = region
        self.nodeID = nodeID
        self.dataDirectory = dataDirectory
        self.spoolDirectory = (dataDirectory as NSString).appendingPathComponent("spool")
        self.bundlePath = (dataDirectory as NSString).appendingPathComponent("bundle.json")
        self.identityDirectory = (dataDirectory as NSString).appendingPathComponent("identity")
        self.smtp = SMTPServerConfiguration(hostname: hostname)
    }
}

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
    public var controlHost = "127.0.0.1"
    public var controlPort = 9101
    /// Holds the metadata store (`metadata.sqlite`) and, by default, the spool.
    public var dataDirectory: String
    public var spoolDirectory: String
    /// The local bundle file (the shape of a config bundle), re-read when it changes.
    public var bundlePath: String
    /// The coordinator's bundle-signing public key. With it, only bundles it signed are applied; without it
    /// (development), plain bundle files are.
    public var trustedKey: Curve25519.Signing.PublicKey?
    /// Where the last bundle applied is kept, to start from when the bundle file is unusable.
    public var lastKnownGoodPath: String { (dataDirectory as NSString).appendingPathComponent("bundle.last-good.json") }
    public var metadataPath: String { (dataDirectory as NSString).appendingPathComponent("metadata.sqlite") }
    /// PEM files for STARTTLS; no STARTTLS without them.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var smarthost: Smarthost?
    /// The analysis service of the `content_analysis` step; it runs only where the config in force allows it.
    public var analysisURL: String?
    public var deliveryConcurrency = 64
    /// How long a webhook has to answer.
    public var webhookTimeout: Duration = .seconds(30)
    /// The file holding the node token, which the control API accepts and the coordinator accepts from the node;
    /// `MERIDIAN_NODE_TOKEN` overrides it. Created (0600) when missing.
    public var nodeTokenFile: String
    public var retentionInterval: Duration = .seconds(3600)
    /// The coordinator to pull bundles from and report to; nil runs from the bundle file alone.
    public var coordinatorURL: String?
    /// How often the node pulls to reconcile, besides the coordinator's pushes.
    public var pullInterval: Duration = .seconds(30)
    /// The control API's URL as the coordinator reaches it, for pushes (default: from host and port).
    public var controlURL: String?
    /// The node's wall clock: receipt times, retention cut-offs, queue lifetimes. Tests set it.
    public var now: @Sendable () -> Date = Date.init

    public var advertisedControlURL: String {
        if let controlURL { return controlURL }
        let host = ["0.0.0.0", "::", ""].contains(controlHost) ? smtp.hostname : controlHost
        return "http://\(host.contains(":") ? "[\(host)]" : host):\(controlPort)"
    }

    public init(region: Region, nodeID: String, dataDirectory: String, hostname: String) {
        self.region = region
        self.nodeID = nodeID
        self.dataDirectory = dataDirectory
        self.spoolDirectory = (dataDirectory as NSString).appendingPathComponent("spool")
        self.bundlePath = (dataDirectory as NSString).appendingPathComponent("bundle.json")
        self.nodeTokenFile = (dataDirectory as NSString).appendingPathComponent("node-token")
        self.smtp = SMTPServerConfiguration(hostname: hostname)
    }
}

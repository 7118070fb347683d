import Foundation
import Logging
import MeridianCore

/// The node's sender authentication: SPF, DKIM and DMARC for each message before it is spooled or posted,
/// with the node's own DNS resolver. The verdicts go into the spool record (so a retry after a restart posts
/// the same ones), the payload and the metadata; the message gains an `Authentication-Results` field naming
/// this node, and loses any that claim to come from it.
public struct SenderAuthenticationStep: Sendable {
    let authenticator: SenderAuthenticator
    /// The authserv-id of the field added: the node's SMTP host name.
    let hostname: String
    let metrics: NodeMetrics

    public init(authenticator: SenderAuthenticator, hostname: String, metrics: NodeMetrics) {
        self.authenticator = authenticator
        self.hostname = hostname
        self.metrics = metrics
    }

    /// The message as the customer gets it (stamped) and the verdicts.
    func run(_ transaction: SMTPTransaction) async -> (data: [UInt8], authentication: SenderAuthentication) {
        let start = ContinuousClock.now
        let sender = transaction.from.map(String.init(describing:)) ?? ""
        // The client address is always an IP address here; an unparsable one (never seen) checks as TEST-NET.
        let ip = IPAddress(host: transaction.remoteAddress) ?? .v4([192, 0, 2, 0])
        let authentication = await authenticator.authenticate(data: transaction.data, ip: ip, sender: sender, helo: transaction.helo)
        metrics.authenticationTime(ContinuousClock.now - start)
        metrics.authentication(check: "spf", result: authentication.spf.result.rawValue)
        for signature in authentication.dkim { metrics.authentication(check: "dkim", result: signature.result.rawValue) }
        metrics.authentication(check: "dmarc", result: authentication.dmarc.result.rawValue)
        let header = authentication.header(authservID: hostname, sender: sender)
        return (SenderAuthentication.stamp(transaction.data, header: header, authservID: hostname), authentication)
    }
}

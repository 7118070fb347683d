import Foundation
import MeridianCore
import MeridianServer
import X509

extension NodeAuthority {
    /// How old a signed report may be when it arrives; older is a replay.
    static let reportFreshness: TimeInterval = 600

    /// Checks that `signed` was signed by `node` with its current or previous certificate, valid at `date` (the
    /// statement's own time); returns the certificate. A ``CoreError`` says what does not hold.
    @discardableResult
    public func check(_ signed: NodeSigned, by node: NodeRecord, at date: Date) throws(CoreError) -> Certificate {
        guard let region = RegionID(node.region) else {
            throw CoreError(.nodeSignatureInvalid, "the node's region \(node.region) is not a region id")
        }
        let certificate = try signed.verify(issuer: nodeCA.certificate, signer: .node(zone: zone, region: region, id: node.id), at: date)
        guard [node.certificateSerial, node.previousCertificateSerial].contains(certificate.serialHex) else {
            throw CoreError(.nodeSignatureInvalid, "signed with a certificate of \(node.id) that is no longer its own")
        }
        return certificate
    }

    /// Checks a node's ACK or NACK: signed by `node` (``check(_:by:at:)``), about itself, and fresh at `now`.
    public func check(_ report: BundleReport, by node: NodeRecord, now: Date) throws(CoreError) {
        let statement = try report.statement()
        guard statement.region == node.region, statement.node == node.id else {
            throw CoreError(.nodeSignatureInvalid, "the report is signed as \(statement.region)/\(statement.node), not \(node.region)/\(node.id)")
        }
        guard abs(now.timeIntervalSince(statement.at)) <= Self.reportFreshness else {
            throw CoreError(.nodeSignatureInvalid, "the report was signed at \(ISOTime.string(statement.at)), too far from now to be this answer")
        }
        try check(report.signed!, by: node, at: statement.at)
    }
}

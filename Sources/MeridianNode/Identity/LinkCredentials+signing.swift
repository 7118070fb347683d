import Foundation
import MeridianCore
import MeridianServer

extension LinkCredentials {
    /// `report` signed with the node's key, as the node its certificate names, at `date` (the machine's clock, as
    /// the certificate's).
    func signed(_ report: BundleReport, at date: Date = Date()) throws -> BundleReport {
        let pair = current
        guard case .node(_, let region, let node)? = pair.certificate.nodeIdentity else {
            throw NodeError(.enrollmentUnusable, "the node's certificate names no node; enroll it again")
        }
        return try report.signing(region: region.rawValue, node: node, at: date, key: pair.key, certificate: pair.certificate.pem)
    }

    /// `receipt` signed with the node's key, its records beside it (``SignedReceipt``).
    func signed(_ receipt: DirectiveReceipt) throws -> SignedReceipt {
        let pair = current
        return try SignedReceipt.sign(receipt, with: pair.key, certificate: pair.certificate.pem)
    }
}

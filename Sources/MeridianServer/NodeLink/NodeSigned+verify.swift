import Crypto
import Foundation
import MeridianCore
import X509

extension NodeSigned {
    /// How far a statement's own time may lie outside its certificate's validity: the clocks of the node and the
    /// coordinator differ by a little (``CoordinatorClock``).
    public static let clockTolerance: TimeInterval = 300

    /// Checks that the statement was signed by the key of a certificate the node CA `issuer` issued to `signer`,
    /// valid at `date` (the statement's own time): the coordinator when a receipt or report arrives, and an
    /// auditor later (`meridian gdpr verify-receipts`). Returns the certificate.
    @discardableResult
    public func verify(issuer: Certificate, signer: NodeIdentity, at date: Date) throws(CoreError) -> Certificate {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: self.certificate)
        } catch {
            throw CoreError(.nodeSignatureInvalid, "the signer's certificate is not a PEM certificate")
        }
        guard certificate.issuer == issuer.subject, issuer.publicKey.isValidSignature(certificate.signature, for: certificate) else {
            throw CoreError(.nodeSignatureInvalid, "the signer's certificate was not issued by the node CA")
        }
        guard let named = certificate.nodeIdentity, named == signer else {
            throw CoreError(
                .nodeSignatureInvalid, "the certificate names \(certificate.nodeIdentity?.uri ?? "no node"), not \(signer.uri)")
        }
        guard certificate.notValidBefore.addingTimeInterval(-Self.clockTolerance) <= date,
            date <= certificate.notValidAfter.addingTimeInterval(Self.clockTolerance)
        else {
            throw CoreError(
                .nodeSignatureInvalid,
                "the statement's time \(ISOTime.string(date)) is outside its certificate's validity "
                    + "(\(ISOTime.string(certificate.notValidBefore)) to \(ISOTime.string(certificate.notValidAfter)))")
        }
        guard let key = P256.Signing.PublicKey(certificate.publicKey) else {
            throw CoreError(.nodeSignatureInvalid, "the signer's certificate has no P-256 key")
        }
        try checkSignature(with: key)
        return certificate
    }
}

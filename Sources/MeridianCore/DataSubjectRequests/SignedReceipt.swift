import Crypto
import Foundation

/// A node's answer to a directive (`POST /v1/directives`): its receipt signed with its key (``NodeSigned``), and
/// for access the subject's records as JSON text. The signed receipt leaves the records out and names their
/// SHA-256 instead, so the coordinator can keep the signed part, which holds no personal data, beside the
/// records it seals.
public struct SignedReceipt: Sendable, Codable {
    public var receipt: NodeSigned
    /// Access only: the records, the JSON whose SHA-256 the receipt's `data_sha256` is.
    public var data: String?

    public init(receipt: NodeSigned, data: String?) {
        self.receipt = receipt
        self.data = data
    }

    /// `receipt` signed by the node with `key` (its certificate `certificate`, PEM).
    public static func sign(_ receipt: DirectiveReceipt, with key: P256.Signing.PrivateKey, certificate: String) throws -> SignedReceipt {
        var statement = receipt
        var text: String?
        if let data = receipt.data {
            let bytes = try NodeSigned.encoder.encode(data)
            text = String(decoding: bytes, as: UTF8.self)
            statement.dataSHA256 = SHA256.hash(data: bytes).hexString
        }
        statement.data = nil
        return SignedReceipt(receipt: try NodeSigned.sign(statement, with: key, certificate: certificate), data: text)
    }

    /// The receipt the node signed, with its records put back, once they match the SHA-256 it signed. The
    /// signature and the signer are checked apart (`NodeSigned.verify` in MeridianServer).
    public func opened() throws(CoreError) -> DirectiveReceipt {
        var receipt = try self.receipt.decode(DirectiveReceipt.self)
        guard receipt.data == nil else {
            throw CoreError(.nodeSignatureInvalid, "the signed receipt carries records; they belong beside it")
        }
        switch (receipt.dataSHA256, data) {
        case (nil, nil):
            return receipt
        case (let digest?, let text?):
            guard SHA256.hash(data: Data(text.utf8)).hexString == digest else {
                throw CoreError(.nodeSignatureInvalid, "the records sent are not those the receipt names (SHA-256 differs)")
            }
            do {
                receipt.data = try NodeSigned.decoder.decode([String: JSONValue].self, from: Data(text.utf8))
            } catch {
                throw CoreError(.nodeSignatureInvalid, "the records sent are not JSON: \(error)")
            }
            return receipt
        case (nil, _?):
            throw CoreError(.nodeSignatureInvalid, "records came with a receipt that names none")
        case (_?, nil):
            throw CoreError(.nodeSignatureInvalid, "the receipt names records that did not come with it")
        }
    }
}

import Crypto
import Foundation

/// What became of a bundle offered to a node, from its bundle file, a coordinator push or a pull: the node's
/// ACK or NACK. A node answers a push with it and posts it after a pull, signed (``signed``), so that the
/// coordinator's record of which version each node applied is the node's own word.
public struct BundleReport: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable { case ack, nack }
    public var status: Status
    /// The version the offer carried, when it could be read.
    public var offered: Int?
    /// The version in force after the offer.
    public var version: Int
    /// Why a NACK was given.
    public var error: String?
    /// The report as the node signed it (a ``Statement``), with its certificate; nil from a bundle file.
    public var signed: NodeSigned?

    public init(status: Status, offered: Int?, version: Int, error: String?, signed: NodeSigned? = nil) {
        self.status = status
        self.offered = offered
        self.version = version
        self.error = error
        self.signed = signed
    }

    /// What a node signs of its report: the report, who it is, and when, so that a report cannot be replayed
    /// later or for another node.
    public struct Statement: Sendable, Codable, Equatable {
        public var region: String
        public var node: String
        public var at: Date
        public var status: Status
        public var offered: Int?
        public var version: Int
        public var error: String?
    }

    /// The report with its signature by `key` (the node `node` of `region`, its certificate `certificate`).
    public func signing(region: String, node: String, at date: Date, key: P256.Signing.PrivateKey, certificate: String) throws -> BundleReport {
        var report = self
        let statement = Statement(
            region: region, node: node, at: Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)), status: status,
            offered: offered, version: version, error: error)
        report.signed = try NodeSigned.sign(statement, with: key, certificate: certificate)
        return report
    }

    /// The signed statement, once it says what the report says; the signature and the signer are checked apart.
    public func statement() throws(CoreError) -> Statement {
        guard let signed else { throw CoreError(.nodeSignatureInvalid, "the report is not signed") }
        let statement = try signed.decode(Statement.self)
        guard statement.status == status, statement.offered == offered, statement.version == version, statement.error == error else {
            throw CoreError(.nodeSignatureInvalid, "the signed report says \(statement.status.rawValue) \(statement.version), not \(status.rawValue) \(version)")
        }
        return statement
    }
}

import Crypto
import Foundation

/// A signed statement that the audit log had `sequence` entries, the last with `hash`, at `at`: the log's head,
/// kept outside the database (the coordinator's data directory, `/.well-known/audit-checkpoint`, anyone's copy),
/// in the manner of Certificate Transparency's signed tree heads. Whoever holds the database can rewrite the
/// chain consistently, but not the checkpoints already handed out: ``AuditChain/verify(_:against:)`` then finds
/// the entries deleted or rewritten.
public struct AuditCheckpoint: Sendable, Hashable, Codable {
    public var sequence: Int64
    public var hash: String
    public var at: Date
    /// Ed25519 over ``statement``, with the coordinator's publication key (`/.well-known/canary.pub`), base64.
    public var signature: String

    enum CodingKeys: String, CodingKey { case sequence, hash, at, signature }

    /// The bytes signed.
    public static func statement(sequence: Int64, hash: String, at: Date) -> Data {
        Data("meridian audit checkpoint v1\nsequence \(sequence)\nhash \(hash)\nat \(ISOTime.string(at))\n".utf8)
    }

    public var statement: Data { Self.statement(sequence: sequence, hash: hash, at: at) }

    /// The head `record` signed at `date`.
    public static func sign(_ record: AuditRecord, at date: Date, with key: Curve25519.Signing.PrivateKey) throws -> AuditCheckpoint {
        // Whole seconds, so that the time in the statement and the one in the JSON are the same instant.
        let at = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        let signature = try key.signature(for: statement(sequence: record.sequence, hash: record.hash, at: at))
        return AuditCheckpoint(sequence: record.sequence, hash: record.hash, at: at, signature: signature.base64EncodedString())
    }

    public func isSigned(by key: Curve25519.Signing.PublicKey) -> Bool {
        guard let bytes = Data(base64Encoded: signature) else { return false }
        return key.isValidSignature(bytes, for: statement)
    }

    public init(sequence: Int64, hash: String, at: Date, signature: String) {
        self.sequence = sequence
        self.hash = hash
        self.at = at
        self.signature = signature
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try container.decode(Int64.self, forKey: .sequence)
        hash = try container.decode(String.self, forKey: .hash)
        let text = try container.decode(String.self, forKey: .at)
        guard let date = ISOTime.date(text) else {
            throw DecodingError.dataCorruptedError(forKey: .at, in: container, debugDescription: "\"\(text)\" is not an RFC 3339 time")
        }
        at = date
        signature = try container.decode(String.self, forKey: .signature)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(hash, forKey: .hash)
        try container.encode(ISOTime.string(at), forKey: .at)
        try container.encode(signature, forKey: .signature)
    }

    /// One line of a checkpoint file (JSON, sorted keys).
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

extension AuditChain {
    /// Checks a whole log from its first entry, then against signed checkpoints of its head: an entry a
    /// checkpoint covers must still be there with the hash it had, so deleting the newest entries or rewriting
    /// and re-hashing any of them is found even though the chain itself is consistent. The break names the first
    /// sequence number that can be wrong: the first missing entry, or the entry after the last checkpoint that
    /// still matches.
    public static func verify(_ records: some Sequence<AuditRecord>, against checkpoints: [AuditCheckpoint]) -> (checked: Int, firstBreak: Break?) {
        let sorted = checkpoints.sorted { $0.sequence < $1.sequence }
        var wanted: [Int64: [AuditCheckpoint]] = [:]
        for checkpoint in sorted { wanted[checkpoint.sequence, default: []].append(checkpoint) }
        var chain = AuditChain()
        var lastGood: Int64 = 0
        var last: Int64 = 0
        for record in records {
            if let broken = chain.check(record) { return (chain.checked, broken) }
            last = record.sequence
            for checkpoint in wanted[record.sequence] ?? [] {
                guard checkpoint.hash == record.hash else {
                    return (
                        chain.checked,
                        Break(
                            sequence: lastGood + 1,
                            reason: "the checkpoint signed at \(ISOTime.string(checkpoint.at)) says entry \(checkpoint.sequence) has hash "
                                + "\(checkpoint.hash.prefix(16))…, the log has \(record.hash.prefix(16))…: entries \(lastGood + 1) to "
                                + "\(checkpoint.sequence) were rewritten"))
                }
                lastGood = checkpoint.sequence
            }
        }
        if let newest = sorted.last, newest.sequence > last {
            return (
                chain.checked,
                Break(
                    sequence: last + 1,
                    reason: "the log ends at entry \(last), but the checkpoint signed at \(ISOTime.string(newest.at)) covers \(newest.sequence) "
                        + "entries: entries \(last + 1) to \(newest.sequence) were deleted"))
        }
        return (chain.checked, nil)
    }
}

import Crypto
import Foundation
import Testing

@testable import MeridianCore

@Suite("Audit checkpoints: the log held to signed heads kept outside the database")
struct AuditCheckpointTests {
    static let key = Curve25519.Signing.PrivateKey()
    static let at = Date(timeIntervalSince1970: 1_790_000_000)

    /// The chain rewritten from entry `from` on, every hash recomputed: consistent in itself.
    static func rewritten(_ records: [AuditRecord], from: Int) -> [AuditRecord] {
        var result = Array(records[..<(from - 1)])
        for record in records[(from - 1)...] {
            var copy = AuditRecord(
                sequence: record.sequence, timestampMillis: record.timestampMillis, actorID: record.actorID, actorRole: record.actorRole,
                action: record.action, target: record.target, sourceIP: record.sourceIP, detail: record.detail,
                previousHash: result.last?.hash ?? AuditRecord.genesisHash)
            if record.sequence == Int64(from) {
                copy.detail["name"] = "forged"
                copy = AuditRecord(
                    sequence: copy.sequence, timestampMillis: copy.timestampMillis, actorID: copy.actorID, actorRole: copy.actorRole,
                    action: copy.action, target: copy.target, sourceIP: copy.sourceIP, detail: copy.detail, previousHash: copy.previousHash)
            }
            result.append(copy)
        }
        return result
    }

    @Test("a checkpoint verifies with the key that signed it, and survives its JSON line")
    func signing() throws {
        let records = AuditChainTests.chain(3)
        let checkpoint = try AuditCheckpoint.sign(records[2], at: Self.at.addingTimeInterval(0.7), with: Self.key)
        #expect(checkpoint.isSigned(by: Self.key.publicKey) && !checkpoint.isSigned(by: Curve25519.Signing.PrivateKey().publicKey))
        let decoded = try JSONDecoder().decode(AuditCheckpoint.self, from: Data(try checkpoint.jsonLine().utf8))
        #expect(decoded == checkpoint && decoded.isSigned(by: Self.key.publicKey))
        var forged = checkpoint
        forged.sequence = 2
        #expect(!forged.isSigned(by: Self.key.publicKey))
    }

    @Test("exploit: the newest entries deleted (triggers dropped) pass the chain check, not the checkpoint's")
    func truncation() throws {
        let records = AuditChainTests.chain(10)
        let checkpoint = try AuditCheckpoint.sign(records[9], at: Self.at, with: Self.key)
        let cut = Array(records.prefix(7))
        #expect(AuditChain.verify(cut).firstBreak == nil, "what `audit verify` said before checkpoints")
        let broken = try #require(AuditChain.verify(cut, against: [checkpoint]).firstBreak)
        #expect(broken.sequence == 8 && broken.reason.contains("entries 8 to 10 were deleted"))
        #expect(AuditChain.verify(records, against: [checkpoint]).firstBreak == nil)
    }

    @Test("exploit: entries rewritten and re-hashed are found, between the last matching checkpoint and the first that does not")
    func rewrite() throws {
        let records = AuditChainTests.chain(10)
        let early = try AuditCheckpoint.sign(records[2], at: Self.at, with: Self.key)
        let late = try AuditCheckpoint.sign(records[7], at: Self.at.addingTimeInterval(300), with: Self.key)
        let forged = Self.rewritten(records, from: 5)
        #expect(AuditChain.verify(forged).firstBreak == nil, "consistent in itself")
        let broken = try #require(AuditChain.verify(forged, against: [late, early]).firstBreak)
        #expect(broken.sequence == 4 && broken.reason.contains("entries 4 to 8 were rewritten"))
        // Entries after the newest checkpoint cannot be held to it: that is the window a checkpoint interval leaves.
        #expect(AuditChain.verify(Self.rewritten(records, from: 9), against: [late, early]).firstBreak == nil)
    }
}

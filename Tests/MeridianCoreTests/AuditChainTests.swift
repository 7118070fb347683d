import Testing

@testable import MeridianCore

@Suite("The audit hash chain")
struct AuditChainTests {
    static func chain(_ count: Int) -> [AuditRecord] {
        var records: [AuditRecord] = []
        for index in 1...count {
            records.append(AuditRecord(
                sequence: Int64(index), timestampMillis: 1_700_000_000_000 + Int64(index), actorID: "tok_\(index)",
                actorRole: "admin", action: "customer.update", target: "cus_1", sourceIP: "127.0.0.1",
                detail: ["name": "n\(index)", "region": "eu"], previousHash: records.last?.hash ?? AuditRecord.genesisHash))
        }
        return records
    }

    @Test func anIntactChainVerifies() {
        let result = AuditChain.verify(Self.chain(5))
        #expect(result.checked == 5 && result.firstBreak == nil)
    }

    @Test func anAlteredFieldIsFoundAtItsEntry() {
        var records = Self.chain(5)
        records[2].detail["name"] = "forged"
        #expect(AuditChain.verify(records).firstBreak?.sequence == 3)
    }

    @Test func aRecomputedHashBreaksTheNextLink() {
        var records = Self.chain(5)
        records[2].actorID = "someone else"
        records[2].hash = records[2].computedHash()
        #expect(AuditChain.verify(records).firstBreak?.sequence == 4)
    }

    @Test func aRemovedEntryIsFound() {
        var records = Self.chain(5)
        records.remove(at: 1)
        #expect(AuditChain.verify(records).firstBreak?.sequence == 3)
    }

    @Test func fieldBoundariesCannotBeShifted() {
        let a = AuditRecord(sequence: 1, timestampMillis: 1, actorID: "ab", actorRole: "c", action: "x", target: "", sourceIP: "-", detail: [:], previousHash: AuditRecord.genesisHash)
        let b = AuditRecord(sequence: 1, timestampMillis: 1, actorID: "a", actorRole: "bc", action: "x", target: "", sourceIP: "-", detail: [:], previousHash: AuditRecord.genesisHash)
        #expect(a.hash != b.hash)
    }
}

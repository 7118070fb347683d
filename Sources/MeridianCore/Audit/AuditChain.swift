import Foundation

/// Checks an audit log, in order, from its first entry.
public struct AuditChain: Sendable {
    public struct Break: Sendable, Hashable, CustomStringConvertible {
        public var sequence: Int64
        public var reason: String
        public var description: String { "entry \(sequence): \(reason)" }
    }

    private var expectedSequence: Int64 = 1
    private var previousHash = AuditRecord.genesisHash
    public private(set) var checked = 0

    public init() {}

    /// Feeds the next entry; returns the first break found, if any. Entries must come in sequence order.
    public mutating func check(_ record: AuditRecord) -> Break? {
        defer {
            expectedSequence = record.sequence + 1
            previousHash = record.hash
            checked += 1
        }
        if record.sequence != expectedSequence {
            return Break(sequence: record.sequence, reason: "expected entry \(expectedSequence) here: entries are missing or out of order")
        }
        if record.previousHash != previousHash {
            return Break(sequence: record.sequence, reason: "its previous-hash does not match the entry before it")
        }
        if record.computedHash() != record.hash {
            return Break(sequence: record.sequence, reason: "its content does not match its hash: the entry was altered")
        }
        return nil
    }

    /// Checks a whole log at once.
    public static func verify(_ records: some Sequence<AuditRecord>) -> (checked: Int, firstBreak: Break?) {
        var chain = AuditChain()
        for record in records {
            if let broken = chain.check(record) { return (chain.checked, broken) }
        }
        return (chain.checked, nil)
    }
}

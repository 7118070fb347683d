import Foundation

/// What brings a node from the config version it has to its region's newest: signed deltas
/// (``NodeBundleDelta``), each applying to the version the one before it reached, after a signed snapshot
/// (``NodeBundle``) when the node is new or further behind than the deltas the coordinator keeps. Each part is a
/// ``SignedBundle`` envelope, verified on its own.
///
/// `{"snapshot": {key_id, payload, signature}, "deltas": [{key_id, payload, signature}, …]}`; `snapshot` is absent
/// when the deltas start at the node's version. A node also takes a bare ``SignedBundle`` (a bundle file, or a
/// coordinator of an earlier release) as a snapshot.
public struct ConfigUpdate: Sendable, Hashable, Codable {
    public var snapshot: SignedBundle?
    public var deltas: [SignedBundle]

    public init(snapshot: SignedBundle? = nil, deltas: [SignedBundle] = []) {
        self.snapshot = snapshot
        self.deltas = deltas
    }

    /// The update's JSON from the envelopes' JSON as stored, written around them without decoding a snapshot of
    /// hundreds of megabytes.
    public static func json(snapshot: Data?, deltas: [Data]) -> Data {
        var json = Data(capacity: (snapshot?.count ?? 0) + deltas.reduce(0) { $0 + $1.count + 1 } + 32)
        json.append(contentsOf: Array(#"{"deltas":["#.utf8))
        for (index, delta) in deltas.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            json.append(delta)
        }
        json.append(UInt8(ascii: "]"))
        if let snapshot {
            json.append(contentsOf: Array(#","snapshot":"#.utf8))
            json.append(snapshot)
        }
        json.append(UInt8(ascii: "}"))
        return json
    }
}

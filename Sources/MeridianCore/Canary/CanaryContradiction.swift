import Foundation

/// An event in the legal-request log that makes a canary statement false.
public struct CanaryContradiction: Sendable, Hashable, CustomStringConvertible {
    public var code: CanaryCode
    /// The legal request that holds the event.
    public var requestID: String
    public var reason: String

    public var description: String { "\(code.rawValue): \(reason) (\(requestID))" }

    /// The statements among `asserted` that the log contradicts: a request of the code's kind received on or
    /// before `day`, and for GAG also any request under a gag period.
    public static func find(asserting asserted: [CanaryCode], log: [LegalRequest], on day: CalendarDay) -> [CanaryContradiction] {
        var found: [CanaryContradiction] = []
        for entry in log where entry.receivedOn <= day {
            if let code = entry.kind.canaryCode, asserted.contains(code) {
                found.append(.init(code: code, requestID: entry.id, reason: "a \(entry.kind.rawValue) received on \(entry.receivedOn) is on record"))
            }
            if let gag = entry.gagUntil, asserted.contains(.gagOrders), entry.kind != .gagOrder {
                found.append(.init(code: .gagOrders, requestID: entry.id, reason: "a \(entry.kind.rawValue) came with a gag until \(gag)"))
            }
        }
        return found
    }
}

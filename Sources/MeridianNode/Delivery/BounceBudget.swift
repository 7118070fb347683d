import Foundation
import Synchronization

/// How many delivery status notifications a node sends in an hour, per sender address and per customer, so that
/// a customer whose webhook refuses on purpose cannot make the node mail a forged `MAIL FROM` address over and
/// over (backscatter). Counted per node, over a sliding hour.
final class BounceBudget: Sendable {
    static let perSender = 5
    static let perCustomer = 100
    static let window: TimeInterval = 3600

    private let sent = Mutex<(bySender: [String: [Date]], byCustomer: [String: [Date]])>(([:], [:]))

    /// Takes one notification from both budgets and returns nil, or says which budget is spent (and takes nothing).
    func take(sender: String, customer: String, at now: Date) -> String? {
        let since = now.addingTimeInterval(-Self.window)
        let key = sender.lowercased()
        return sent.withLock { counts in
            let bySender = (counts.bySender[key] ?? []).filter { $0 > since }
            let byCustomer = (counts.byCustomer[customer] ?? []).filter { $0 > since }
            if bySender.count >= Self.perSender {
                counts.bySender[key] = bySender
                return "\(Self.perSender) DSNs to this sender in the last hour"
            }
            if byCustomer.count >= Self.perCustomer {
                counts.byCustomer[customer] = byCustomer
                return "\(Self.perCustomer) DSNs for this customer in the last hour"
            }
            counts.bySender[key] = bySender + [now]
            counts.byCustomer[customer] = byCustomer + [now]
            if counts.bySender.count > 100_000 { counts.bySender = counts.bySender.filter { $0.value.contains { $0 > since } } }
            return nil
        }
    }
}

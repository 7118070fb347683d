import Foundation
import Logging
import NIOConcurrencyHelpers

/// How far this node's clock is from the coordinator's, read from the `Date` header of each answer to a pull.
///
/// Config does not depend on the wall clock (bundles are ordered by version), but two things on a node do: a
/// webhook's `webhook-timestamp`, which receivers following Standard Webhooks check within 5 minutes, and a
/// data-subject directive's 15-minute lifetime. The skew is the node's clock minus the coordinator's, taken at
/// the middle of the request. It is good to about 2 s: `Date` has whole seconds, and servers such as Hummingbird
/// refresh it once a second, so it reads up to 2 s behind the coordinator's clock (a node reads a little ahead).
final class CoordinatorClock: Sendable {
    /// Past this, the node says so in its log once, and the `MeridianNodeClockSkew` alert fires.
    static let warningThreshold: Double = 60

    private let state = NIOLockedValueBox<(skew: Double?, warned: Bool)>((nil, false))

    /// The last skew measured, in seconds; nil before the coordinator first answered.
    var skew: Double? { state.withLockedValue { $0.skew } }

    /// Records the skew an answer shows; returns it, or nil when the header is missing or not an HTTP date.
    @discardableResult
    func record(dateHeader: String?, sent: Date, received: Date, logger: Logger) -> Double? {
        guard let dateHeader, let coordinatorTime = Self.parseHTTPDate(dateHeader) else { return nil }
        let middle = sent.addingTimeInterval(received.timeIntervalSince(sent) / 2)
        let skew = (middle.timeIntervalSince(coordinatorTime)).rounded()
        let (wasWarned, isOff) = state.withLockedValue { state in
            let wasWarned = state.warned
            state.skew = skew
            state.warned = abs(skew) > Self.warningThreshold
            return (wasWarned, state.warned)
        }
        if isOff && !wasWarned {
            logger.warning(
                "node: this node's clock is \(Int(abs(skew))) s \(skew > 0 ? "ahead of" : "behind") the coordinator's; webhook receivers reject timestamps more than 5 minutes off and data-subject directives expire after 15, so check its time service (NTP)",
                metadata: ["skew_seconds": "\(Int(skew))"])
        } else if wasWarned && !isOff {
            logger.notice("node: this node's clock is back within \(Int(Self.warningThreshold)) s of the coordinator's", metadata: ["skew_seconds": "\(Int(skew))"])
        }
        return skew
    }

    /// An IMF-fixdate (RFC 9110 §5.6.7), the only form a server may send: `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text.trimmingCharacters(in: .whitespaces))
    }
}

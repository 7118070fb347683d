import Foundation
import Logging
import Testing

@testable import MeridianNode

@Suite("CoordinatorClock: the node's clock against the coordinator's Date header")
struct CoordinatorClockTests {
    @Test("an IMF-fixdate is read; other forms and junk are not")
    func parsing() {
        #expect(CoordinatorClock.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
        #expect(CoordinatorClock.parseHTTPDate("Tue, 24 Nov 2026 11:38:07 GMT") == Date(timeIntervalSince1970: 1_795_520_287))
        // RFC 850 and asctime forms are obsolete; a server must not send them, and a guess would be worse than none.
        #expect(CoordinatorClock.parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(CoordinatorClock.parseHTTPDate("Sun Nov  6 08:49:37 1994") == nil)
        #expect(CoordinatorClock.parseHTTPDate("") == nil)
        #expect(CoordinatorClock.parseHTTPDate("yesterday") == nil)
    }

    @Test("the skew is the node's clock minus the coordinator's at the middle of the request, ahead or behind")
    func skew() {
        let clock = CoordinatorClock()
        let logger = Logger(label: "test")
        #expect(clock.skew == nil)
        let coordinator = Date(timeIntervalSince1970: 1_795_520_287)
        // The node sent at coordinator time + 299 s and got the answer 2 s later: the middle is + 300 s.
        let sent = coordinator.addingTimeInterval(299)
        #expect(clock.record(dateHeader: "Tue, 24 Nov 2026 11:38:07 GMT", sent: sent, received: sent.addingTimeInterval(2), logger: logger) == 300)
        #expect(clock.skew == 300)
        let behind = coordinator.addingTimeInterval(-90)
        #expect(clock.record(dateHeader: "Tue, 24 Nov 2026 11:38:07 GMT", sent: behind, received: behind, logger: logger) == -90)
        // An answer without a usable Date leaves the last measure in place.
        #expect(clock.record(dateHeader: nil, sent: sent, received: sent, logger: logger) == nil)
        #expect(clock.record(dateHeader: "not a date", sent: sent, received: sent, logger: logger) == nil)
        #expect(clock.skew == -90)
    }
}

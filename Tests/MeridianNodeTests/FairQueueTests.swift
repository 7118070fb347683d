import MeridianCore
import Testing

@testable import MeridianNode

@Suite("Fair delivery: lanes per customer, each capped, skipped while its webhook's breaker is open")
struct FairQueueTests {
    static func key(_ id: String, _ index: Int = 0) -> DeliveryKey { DeliveryKey(messageID: id, recipient: index) }

    @Test("exploit: a tenant with 80 queued deliveries takes its share, and another tenant's delivery starts at once")
    func fairShare() {
        // Before, the first 64 ready deliveries took every region-wide slot, whoever they were for.
        var queue = FairQueue(perLane: 16)
        for index in 0..<80 { queue.push(Self.key("slow-\(index)"), lane: "cus_slow") }
        queue.push(Self.key("fast-0"), lane: "cus_fast")
        let first = queue.take(64, at: .now)
        #expect(first.filter { $0.lane == "cus_slow" }.count == 16)
        #expect(first.contains { $0.lane == "cus_fast" })
        #expect(queue.take(64, at: .now).isEmpty, "the slow tenant's lane is full until one of its deliveries finishes")
        _ = queue.finished(lane: "cus_slow", .success, at: .now)
        #expect(queue.take(64, at: .now).map(\.lane) == ["cus_slow"])
        #expect(queue.count == 80 - 17)
    }

    @Test("lanes are served in turn")
    func roundRobin() {
        var queue = FairQueue(perLane: 16)
        for index in 0..<3 {
            queue.push(Self.key("a\(index)"), lane: "a")
            queue.push(Self.key("b\(index)"), lane: "b")
        }
        #expect(queue.take(4, at: .now).map(\.lane) == ["a", "b", "a", "b"])
    }

    @Test("five failures in a row pause a webhook; after the cooldown one probe goes; success resumes it, failure pauses it longer")
    func breaker() {
        var breaker = CircuitBreaker()
        let start = ContinuousClock.now
        for _ in 0..<4 { #expect(breaker.record(.failure, at: start) == nil) }
        #expect(breaker.record(.neutral, at: start) == nil && breaker.allows(at: start))
        #expect(breaker.record(.failure, at: start) == .opened(until: start + .seconds(30), failures: 5))
        #expect(!breaker.allows(at: start + .seconds(29)) && breaker.allows(at: start + .seconds(30)))
        breaker.started(at: start + .seconds(30))
        #expect(!breaker.allows(at: start + .seconds(31)), "one probe at a time")
        #expect(breaker.record(.failure, at: start + .seconds(40)) == .opened(until: start + .seconds(100), failures: 6))
        breaker.started(at: start + .seconds(100))
        #expect(breaker.record(.success, at: start + .seconds(101)) == .closed)
        #expect(breaker.allows(at: start + .seconds(101)) && breaker.failures == 0)

        var queue = FairQueue(perLane: 16)
        for index in 0..<10 { queue.push(Self.key("x\(index)"), lane: "down") }
        #expect(queue.take(5, at: start).count == 5)
        for _ in 0..<5 { _ = queue.finished(lane: "down", .failure, at: start) }
        queue.push(Self.key("y"), lane: "up")
        #expect(queue.openCircuits == 1 && queue.nextReopening() == start + .seconds(30))
        #expect(queue.take(64, at: start + .seconds(1)).map(\.lane) == ["up"])
    }
}

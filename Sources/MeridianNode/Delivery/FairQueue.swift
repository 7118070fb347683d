import MeridianCore

/// The deliveries ready to start, in one lane per customer, taken round-robin: a customer may have at most
/// ``perLane`` deliveries in flight, and none while its webhook's ``CircuitBreaker`` is open. So a tenant whose
/// webhook is slow or down holds at most its own share of the region's delivery slots, and never one while it
/// waits, and every other tenant's mail keeps moving.
struct FairQueue {
    let perLane: Int

    private struct Lane {
        var ready: [DeliveryKey] = []
        var head = 0
        var inFlight = 0
        var breaker = CircuitBreaker()
        var count: Int { ready.count - head }

        mutating func popFirst() -> DeliveryKey {
            let key = ready[head]
            head += 1
            if head > 1024, head * 2 > ready.count {
                ready.removeFirst(head)
                head = 0
            }
            return key
        }
    }

    private var lanes: [String: Lane] = [:]
    /// Lanes with ready deliveries, in the order they are served; `next` is the lane served next.
    private var ring: [String] = []
    private var next = 0

    init(perLane: Int) { self.perLane = max(1, perLane) }

    /// Ready deliveries, in all lanes.
    private(set) var count = 0

    mutating func push(_ key: DeliveryKey, lane name: String) {
        var lane = lanes[name] ?? Lane()
        if lane.count == 0 { ring.append(name) }
        lane.ready.append(key)
        lanes[name] = lane
        count += 1
    }

    /// Up to `limit` deliveries that may start now, one lane after another.
    mutating func take(_ limit: Int, at now: ContinuousClock.Instant) -> [(key: DeliveryKey, lane: String)] {
        var taken: [(DeliveryKey, String)] = []
        var idle = 0
        while taken.count < limit, !ring.isEmpty, idle < ring.count {
            if next >= ring.count { next = 0 }
            let name = ring[next]
            guard var lane = lanes[name], lane.inFlight < perLane, lane.breaker.allows(at: now) else {
                next += 1
                idle += 1
                continue
            }
            idle = 0
            taken.append((lane.popFirst(), name))
            lane.inFlight += 1
            lane.breaker.started(at: now)
            count -= 1
            lanes[name] = lane
            if lane.count == 0 {
                ring.remove(at: next)
            } else {
                next += 1
            }
        }
        return taken
    }

    /// A delivery of `lane` finished; returns what its breaker did.
    mutating func finished(lane name: String, _ outcome: CircuitBreaker.Outcome, at now: ContinuousClock.Instant) -> CircuitBreaker.Event? {
        guard var lane = lanes[name] else { return nil }
        lane.inFlight -= 1
        let event = lane.breaker.record(outcome, at: now)
        if lane.count == 0, lane.inFlight == 0, !lane.breaker.isOpen, lane.breaker.failures == 0 {
            lanes[name] = nil
        } else {
            lanes[name] = lane
        }
        return event
    }

    /// When a paused lane with ready deliveries may be tried again, the earliest.
    func nextReopening() -> ContinuousClock.Instant? {
        ring.compactMap { lanes[$0]?.breaker.openUntil }.min()
    }

    /// How many lanes' breakers are open.
    var openCircuits: Int { lanes.values.filter(\.breaker.isOpen).count }

    /// Until when `lane` is paused, if it is.
    func pausedUntil(_ name: String) -> ContinuousClock.Instant? { lanes[name]?.breaker.openUntil }
}

/// Pauses deliveries to a webhook that keeps failing, so that it stops holding delivery slots: after
/// ``threshold`` temporary failures in a row it opens for a cooldown (30 s, doubling each time it opens again,
/// at most 10 minutes); then one delivery is let through as a probe, whose success closes it and whose failure
/// opens it again. A refusal (4xx) is an answer, not a failure: it neither opens nor keeps it open.
struct CircuitBreaker {
    static let threshold = 5
    static let baseCooldown: Duration = .seconds(30)
    static let maximumCooldown: Duration = .seconds(600)

    enum Outcome { case success, failure, neutral }
    enum Event: Equatable {
        case opened(until: ContinuousClock.Instant, failures: Int)
        case closed
    }

    private(set) var failures = 0
    private(set) var openUntil: ContinuousClock.Instant?
    private var openings = 0
    private var probing = false

    var isOpen: Bool { openUntil != nil }

    /// Whether a delivery may start now: always while closed; once the cooldown is over, one probe at a time.
    func allows(at now: ContinuousClock.Instant) -> Bool {
        guard let openUntil else { return true }
        return now >= openUntil && !probing
    }

    /// A delivery starts: past the cooldown it is the probe.
    mutating func started(at now: ContinuousClock.Instant) {
        if let openUntil, now >= openUntil { probing = true }
    }

    /// A delivery finished with `outcome`; returns what changed.
    mutating func record(_ outcome: Outcome, at now: ContinuousClock.Instant) -> Event? {
        switch outcome {
        case .neutral:
            probing = false
            return nil
        case .success:
            let wasOpen = isOpen
            (failures, openUntil, openings, probing) = (0, nil, 0, false)
            return wasOpen ? .closed : nil
        case .failure:
            failures += 1
            if isOpen {
                guard probing else { return nil }  // a delivery that started before it opened
                probing = false
            } else if failures < Self.threshold {
                return nil
            }
            openings += 1
            let cooldown = min(Self.baseCooldown * (1 << min(openings - 1, 10)), Self.maximumCooldown)
            openUntil = now + cooldown
            return .opened(until: now + cooldown, failures: failures)
        }
    }
}

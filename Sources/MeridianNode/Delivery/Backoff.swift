import MeridianCore

/// When the next attempt of a queued delivery happens: exponential backoff from the region's
/// `retry_initial`, capped at `retry_maximum`, with jitter over the upper half of the interval so that
/// a recovering endpoint is not hit by every message at once.
public struct Backoff: Sendable {
    public var initial: Double
    public var maximum: Double

    public init(_ policy: QueuePolicy) {
        initial = Double(policy.retryInitial.seconds)
        maximum = Double(policy.retryMaximum.seconds)
    }

    public init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Seconds to wait after the `attempt`-th failed attempt (1-based).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(maximum, initial * Double(1 << exponent))
        return ceiling / 2 + ceiling / 2 * random
    }
}

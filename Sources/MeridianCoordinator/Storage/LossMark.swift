import Synchronization

/// When a session of the store last saw its connection lost, or its pool could not connect.
final class LossMark: Sendable {
    private let instant = Mutex<ContinuousClock.Instant?>(nil)
    func mark() { instant.withLock { $0 = .now } }
    var last: ContinuousClock.Instant? { instant.withLock { $0 } }
}

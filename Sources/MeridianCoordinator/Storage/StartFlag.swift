import Synchronization

/// When a session's body got its connection and began: only a body that never began is safe to run again
/// whatever went wrong.
final class StartFlag: Sendable {
    private let began = Mutex<ContinuousClock.Instant?>(nil)
    func set() { began.withLock { $0 = .now } }
    var isSet: Bool { at != nil }
    var at: ContinuousClock.Instant? { began.withLock { $0 } }
}

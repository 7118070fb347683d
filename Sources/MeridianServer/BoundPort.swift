import Synchronization

/// The port a listener bound, known once it listens (tests ask for port 0, a free one).
public final class BoundPort: Sendable {
    private let bound = Mutex<Int?>(nil)

    public init() {}

    public var port: Int? { bound.withLock { $0 } }

    public func set(_ port: Int?) {
        bound.withLock { $0 = port }
    }
}

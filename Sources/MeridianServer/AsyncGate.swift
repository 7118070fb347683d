import Synchronization

/// Lets at most `limit` holders through at once, the others waiting in arrival order. With a limit of 1 it is
/// the one-at-a-time gate of an SQLite connection; with more, a cap on concurrent requests to one endpoint.
public final class AsyncGate: Sendable {
    public let limit: Int
    private let state: Mutex<State>

    private struct State {
        var holders = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        var first = 0
    }

    public init(limit: Int = 1) {
        self.limit = max(1, limit)
        self.state = Mutex(State())
    }

    /// Waits for a place; pair every `enter` with one `leave`.
    public func enter() async {
        await withCheckedContinuation { continuation in
            let admitted = state.withLock { state in
                guard state.holders == limit else {
                    state.holders += 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if admitted { continuation.resume() }
        }
    }

    /// Gives the place to the longest waiting, or frees it.
    public func leave() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard state.first < state.waiting.count else {
                state.holders -= 1
                return nil
            }
            let next = state.waiting[state.first]
            state.first += 1
            if state.first == state.waiting.count {
                state.waiting.removeAll(keepingCapacity: true)
                state.first = 0
            }
            return next
        }
        next?.resume()
    }

    /// Runs `body` holding a place.
    public func withPlace<R>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> sending R) async rethrows -> sending R {
        await enter()
        defer { leave() }
        return try await body()
    }

    /// No one holds a place or waits for one.
    public var isIdle: Bool { state.withLock { $0.holders == 0 && $0.first >= $0.waiting.count } }
}

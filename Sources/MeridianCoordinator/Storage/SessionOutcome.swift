import Synchronization

/// A session's result, delivered once: by the work, or by the watch when it comes first.
final class SessionOutcome<R: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<R, any Error>?
        var result: Result<R, any Error>?
        var watch: Task<Void, any Error>?
    }

    private let state = Mutex(State())

    func waiting(_ continuation: CheckedContinuation<R, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func watch(_ task: Task<Void, any Error>) {
        let done = state.withLock { state in
            if state.continuation == nil { return true }
            state.watch = task
            return false
        }
        if done { task.cancel() }
    }

    func finish(_ result: Result<R, any Error>) {
        let (continuation, watch) = state.withLock { state in
            defer { state.continuation = nil; state.watch = nil }
            return (state.continuation, state.watch)
        }
        watch?.cancel()
        continuation?.resume(with: result)
    }
}

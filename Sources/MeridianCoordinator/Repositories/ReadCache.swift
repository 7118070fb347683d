import Synchronization

/// Values read from the database, kept for `lifetime` so that repeated API reads do not each reach it: tokens by
/// secret hash (``CachedTokenRepository``), customers by id (``CoordinatedCustomerRepository``), the registry
/// (``SubProcessorRepository``).
///
/// The writer that changes a value forgets it here and rings the other replicas (``ReplicaBell``), which forget
/// theirs; `lifetime` bounds how long a change could go unseen should a replica miss the bell. At most `capacity`
/// values are kept. `generation` grows at each forgetting, so that a read that began before a change cannot put
/// the old value back.
final class ReadCache<Value: Sendable>: Sendable {
    let lifetime: Duration
    let capacity: Int
    private let state = Mutex<(values: [String: (value: Value, read: ContinuousClock.Instant)], generation: Int)>(([:], 0))

    init(lifetime: Duration, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    var generation: Int { state.withLock { $0.generation } }

    func value(_ key: String) -> Value? {
        state.withLock { state in
            guard let kept = state.values[key] else { return nil }
            guard ContinuousClock.now - kept.read < lifetime else {
                state.values[key] = nil
                return nil
            }
            return kept.value
        }
    }

    /// Keeps `value`, read when the generation was `generation`, unless something was forgotten since.
    func keep(_ value: Value, for key: String, ifStill generation: Int) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.values.count >= capacity { state.values.removeAll(keepingCapacity: true) }
            state.values[key] = (value, ContinuousClock.now)
        }
    }

    /// The value of `key`, read by `read` when not kept (or no longer fresh). A nil answer is not kept.
    func value(_ key: String, reading read: () async throws -> Value?) async rethrows -> Value? {
        if let kept = value(key) { return kept }
        let generation = self.generation
        guard let value = try await read() else { return nil }
        keep(value, for: key, ifStill: generation)
        return value
    }

    func forget(_ key: String) {
        state.withLock { state in
            state.values[key] = nil
            state.generation += 1
        }
    }

    func clear() {
        state.withLock { state in
            state.values.removeAll()
            state.generation += 1
        }
    }
}

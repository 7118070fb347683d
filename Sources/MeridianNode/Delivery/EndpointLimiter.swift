import MeridianServer
import NIOConcurrencyHelpers

/// Caps concurrent requests per key (a customer and its endpoint's scheme, host and port), in arrival order: one
/// ``AsyncGate`` per key in use, dropped once idle.
final class EndpointLimiter: Sendable {
    private let limit: Int
    private let gates = NIOLockedValueBox<[String: (gate: AsyncGate, users: Int)]>([:])

    init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `body` holding one of the key's places.
    func withPlace<R: Sendable>(_ key: String, _ body: @Sendable () async -> R) async -> R {
        let gate = gates.withLockedValue { gates in
            let entry = gates[key] ?? (AsyncGate(limit: limit), 0)
            gates[key] = (entry.gate, entry.users + 1)
            return entry.gate
        }
        defer {
            gates.withLockedValue { gates in
                guard let entry = gates[key] else { return }
                gates[key] = entry.users == 1 ? nil : (entry.gate, entry.users - 1)
            }
        }
        await gate.enter()
        defer { gate.leave() }
        return await body()
    }
}

import MeridianServer
import NIOConcurrencyHelpers

/// Caps concurrent requests per endpoint (scheme, host and port), in arrival order: one ``AsyncGate`` per
/// endpoint in use, dropped once idle.
final class EndpointLimiter: Sendable {
    private let limit: Int
    private let gates = NIOLockedValueBox<[String: (gate: AsyncGate, users: Int)]>([:])

    init(limit: Int) { self.limit = max(1, limit) }

    /// Runs `body` holding one of the endpoint's places.
    func withPlace<R: Sendable>(_ endpoint: String, _ body: @Sendable () async -> R) async -> R {
        let gate = gates.withLockedValue { gates in
            let entry = gates[endpoint] ?? (AsyncGate(limit: limit), 0)
            gates[endpoint] = (entry.gate, entry.users + 1)
            return entry.gate
        }
        defer {
            gates.withLockedValue { gates in
                guard let entry = gates[endpoint] else { return }
                gates[endpoint] = entry.users == 1 ? nil : (entry.gate, entry.users - 1)
            }
        }
        await gate.enter()
        defer { gate.leave() }
        return await body()
    }
}

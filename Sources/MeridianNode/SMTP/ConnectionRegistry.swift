import MeridianCore
import NIOConcurrencyHelpers
import NIOCore

/// The open connections, so that a limit can be enforced and a shutdown can drain them.
final class ConnectionRegistry: Sendable {
    /// Sent down each pipeline when the server drains: idle sessions end now, busy ones after their reply.
    struct Drain {}

    private let state = NIOLockedValueBox(State())

    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var perIP: [String: Int] = [:]
        /// Whoever waits for the last connection to close (a drain).
        var emptied: [CheckedContinuation<Void, Never>] = []
    }

    /// Registers the channel unless a limit is reached; returns the refusal reply otherwise.
    func admit(_ channel: any Channel, ip: String, limit: Int, perIPLimit: Int) -> SMTPReply? {
        state.withLockedValue { state in
            if state.channels.count >= limit {
                return SMTPReply(421, "4.3.2", "Too many connections; try again later")
            }
            if state.perIP[ip, default: 0] >= perIPLimit {
                return SMTPReply(421, "4.7.0", "Too many connections from \(ip); try again later")
            }
            state.channels[ObjectIdentifier(channel)] = channel
            state.perIP[ip, default: 0] += 1
            return nil
        }
    }

    func remove(_ channel: any Channel, ip: String) {
        let waiting = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.channels[ObjectIdentifier(channel)] = nil
            state.perIP[ip, default: 1] -= 1
            if state.perIP[ip] == 0 { state.perIP[ip] = nil }
            guard state.channels.isEmpty else { return [] }
            defer { state.emptied = [] }
            return state.emptied
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Returns once no connection is open.
    func waitUntilEmpty() async {
        await withCheckedContinuation { continuation in
            let empty = state.withLockedValue { state in
                if state.channels.isEmpty { return true }
                state.emptied.append(continuation)
                return false
            }
            if empty { continuation.resume() }
        }
    }

    var count: Int { state.withLockedValue { $0.channels.count } }
    var all: [any Channel] { state.withLockedValue { Array($0.channels.values) } }
}

import Crypto
import Foundation

/// Limits sign-in attempts on `/account`: at most ``perAddress`` attempts from one client address and
/// ``perKey`` failures with one API key in ``window``, so the page cannot be used to guess keys or to churn
/// sessions. In memory, like the sessions.
actor SignInThrottle {
    static let perAddress = 30
    static let perKey = 5
    static let window: TimeInterval = 600
    static let tracked = 100_000

    private var byAddress: [String: [Date]] = [:]
    private var failuresByKey: [String: [Date]] = [:]
    let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date) { self.now = now }

    /// Counts an attempt from `address` with `key`; returns how many seconds to wait when over a limit (and then
    /// counts nothing).
    func attempt(from address: String, key: String) -> Int? {
        let date = now()
        let since = date.addingTimeInterval(-Self.window)
        let recent = (byAddress[address] ?? []).filter { $0 > since }
        let failures = (failuresByKey[Self.digest(key)] ?? []).filter { $0 > since }
        if recent.count >= Self.perAddress || failures.count >= Self.perKey {
            let oldest = recent.count >= Self.perAddress ? recent.first! : failures.first!
            return max(1, Int(oldest.addingTimeInterval(Self.window).timeIntervalSince(date).rounded(.up)))
        }
        if byAddress.count >= Self.tracked { prune(since) }
        byAddress[address] = recent + [date]
        return nil
    }

    /// A failed attempt with `key`.
    func failed(key: String) {
        let since = now().addingTimeInterval(-Self.window)
        if failuresByKey.count >= Self.tracked { prune(since) }
        failuresByKey[Self.digest(key), default: []] = (failuresByKey[Self.digest(key)] ?? []).filter { $0 > since } + [now()]
    }

    private func prune(_ since: Date) {
        byAddress = byAddress.filter { $0.value.contains { $0 > since } }
        failuresByKey = failuresByKey.filter { $0.value.contains { $0 > since } }
    }

    /// Keys are kept only as a hash.
    static func digest(_ key: String) -> String {
        SHA256.hash(data: Data(key.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }
}

import Foundation
import MeridianCore

/// Sign-in sessions of the `/account` page, in memory: short-lived (30 minutes from sign-in), each with its own
/// CSRF token. A restart signs everyone out, which for a page used for minutes at a time is acceptable. Each
/// customer has at most ``perCustomer`` sessions (a new one ends its own oldest), so one customer's sign-ins never
/// end anyone else's; past ``maximum`` in all, new sign-ins wait.
actor AccountSessions {
    struct Session: Sendable {
        var id: String
        var tokenID: String
        var customerID: String
        var csrf: String
        var expires: Date
        /// A message for the next page view (the result of the last form), shown once.
        var notice: Notice?
    }

    struct Notice: Sendable {
        var text: String
        var isError: Bool
    }

    static let lifetime: TimeInterval = 30 * 60
    static let perCustomer = 10
    static let maximum = 100_000
    private var sessions: [String: Session] = [:]
    let now: @Sendable () -> Date

    init(now: @escaping @Sendable () -> Date) {
        self.now = now
    }

    /// A new session, or nil when the page holds its maximum of sessions.
    func create(tokenID: String, customerID: String) -> Session? {
        sweep()
        let own = sessions.values.filter { $0.customerID == customerID }
        if own.count >= Self.perCustomer, let oldest = own.min(by: { $0.expires < $1.expires }) {
            sessions[oldest.id] = nil
        }
        guard sessions.count < Self.maximum else { return nil }
        let session = Session(
            id: Self.random(), tokenID: tokenID, customerID: customerID, csrf: Self.random(), expires: now().addingTimeInterval(Self.lifetime))
        sessions[session.id] = session
        return session
    }

    func find(_ id: String) -> Session? {
        guard let session = sessions[id] else { return nil }
        guard session.expires > now() else {
            sessions[id] = nil
            return nil
        }
        return session
    }

    /// Returns the pending notice and clears it.
    func takeNotice(_ id: String) -> Notice? {
        defer { sessions[id]?.notice = nil }
        return sessions[id]?.notice
    }

    func setNotice(_ id: String, _ notice: Notice) {
        sessions[id]?.notice = notice
    }

    func end(_ id: String) {
        sessions[id] = nil
    }

    private func sweep() {
        let date = now()
        sessions = sessions.filter { $0.value.expires > date }
    }

    /// 256 random bits, base64url.
    static func random() -> String {
        Base64URL.random(bytes: 32)
    }
}

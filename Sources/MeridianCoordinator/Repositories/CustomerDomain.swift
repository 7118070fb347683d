import Foundation
import MeridianCore

/// A domain of an account, with the proof that the account owns it. Only a `verified` domain is routed: it goes
/// into the bundles, so nodes accept mail for it.
public struct CustomerDomain: Sendable, Hashable {
    public enum State: String, Sendable, CaseIterable {
        /// Added; its `_meridian` TXT record has not been seen. Not routed.
        case pending
        /// Proved (by DNS, by an operator, or as a reserved test name in `meridian up`). Routed.
        case verified
        /// Its proof disappeared and stayed away past the grace period. Not routed until it is seen again.
        case suspended
    }

    public var domain: String
    /// The value customers publish at `_meridian.<domain>` to prove ownership.
    public var verificationToken: String
    public var state: State
    /// When the domain was last proved, and how: `dns`, `operator:<token id>`, `sandbox` (a reserved test name in
    /// `meridian up`) or `migration` (routed before proofs were required; re-checked like `dns`).
    public var verifiedAt: Date?
    public var verifiedBy: String?
    /// When DNS was last asked about the proof.
    public var checkedAt: Date?
    /// Since when a verified domain's proof has been missing; it is suspended once the grace period has passed.
    public var failingSince: Date?

    public init(
        domain: String, verificationToken: String, state: State = .pending, verifiedAt: Date? = nil, verifiedBy: String? = nil,
        checkedAt: Date? = nil, failingSince: Date? = nil
    ) {
        self.domain = domain
        self.verificationToken = verificationToken
        self.state = state
        self.verifiedAt = verifiedAt
        self.verifiedBy = verifiedBy
        self.checkedAt = checkedAt
        self.failingSince = failingSince
    }

    /// A newly added domain with a fresh, random ownership-verification token (144 bits), pending.
    public init(newDomain domain: String) {
        self.init(domain: domain, verificationToken: Base64URL.random(bytes: 18))
    }

    /// Whether nodes accept mail for it.
    public var isRouted: Bool { state == .verified }

    /// Proved by hand (an operator, or the sandbox's reserved names): DNS checks leave it alone.
    public var isProvedByHand: Bool { verifiedBy == "sandbox" || verifiedBy?.hasPrefix("operator:") == true }

    /// The TXT record value that proves it.
    public var proofRecord: String { "meridian-verification=\(verificationToken)" }

    /// The reserved names of RFC 2606 and RFC 6761 that no one can own, which `meridian up` counts as proved.
    public static func isReservedTestName(_ domain: String) -> Bool {
        let name = domain.lowercased()
        return ["test", "example", "invalid", "localhost"].contains { name == $0 || name.hasSuffix("." + $0) }
    }
}

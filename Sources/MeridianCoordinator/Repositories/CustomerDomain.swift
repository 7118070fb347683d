import Foundation
import MeridianCore

public struct CustomerDomain: Sendable, Hashable {
    public var domain: String
    /// The value customers publish at `_meridian.<domain>` to prove ownership.
    public var verificationToken: String

    public init(domain: String, verificationToken: String) {
        self.domain = domain
        self.verificationToken = verificationToken
    }

    /// A newly added domain with a fresh, random ownership-verification token (144 bits).
    public init(newDomain domain: String) {
        var generator = SystemRandomNumberGenerator()
        self.init(domain: domain, verificationToken: Base64URL.encode((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }
}

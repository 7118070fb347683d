import Crypto
import Foundation
import HummingbirdBcrypt
import HummingbirdOTP
import MeridianCore
import NIOPosix

/// The account's credentials for people: bcrypt passwords, TOTP second factors (RFC 6238: SHA-1, 6 digits,
/// 30 seconds, as every authenticator app reads them) and single-use recovery codes. Bcrypt runs on NIO's
/// thread pool, never on the tasks that serve requests.
struct AccountSecrets: Sendable {
    /// bcrypt's cost: 12 in production (about a quarter of a second here); tests may lower it.
    var bcryptCost: UInt8 = 12

    static let passwordMinimum = 10
    /// bcrypt reads only the first 72 bytes: a longer password is refused rather than silently cut.
    static let passwordMaximumBytes = 72

    /// Why `password` cannot be used, or nil.
    static func passwordProblem(_ password: String, email: String) -> String? {
        if password.count < passwordMinimum { return "The password must have at least \(passwordMinimum) characters." }
        if password.utf8.count > passwordMaximumBytes { return "The password must be at most \(passwordMaximumBytes) bytes long." }
        if password.lowercased() == email.lowercased() { return "The password must not be your e-mail address." }
        return nil
    }

    func hash(_ password: String) async throws -> String {
        let cost = bcryptCost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String?) async throws -> Bool {
        // A user without a password still costs one bcrypt, so timing does not tell which addresses exist.
        let target = hash ?? Self.decoyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: target) }
        return hash != nil && matches
    }

    /// A bcrypt hash of a random password, compared against when there is no user.
    static let decoyHash = Bcrypt.hash(Base64URL.random(bytes: 16), cost: 12)

    // MARK: - TOTP

    static let base32 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    /// A new TOTP secret: 32 characters of the base32 alphabet (160 bits), used as the HMAC key's bytes.
    static func newTOTPSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in base32[Int(generator.next() % 32)] })
    }

    /// The `otpauth://` URI an authenticator app takes (typed in, or as a QR code).
    static func authenticatorURI(secret: String, email: String) -> String {
        TOTP(secret: secret).createAuthenticatorURL(label: "Meridian:\(email)", issuer: "Meridian")
    }

    /// The key as an app asks for it when typed by hand: the secret's bytes in base32, in groups of four.
    static func manualKey(secret: String) -> String {
        let uri = authenticatorURI(secret: secret, email: "x")
        let key = uri.components(separatedBy: "secret=").last?.prefix { $0 != "&" } ?? ""
        return stride(from: 0, to: key.count, by: 4).map { offset in
            String(key.dropFirst(offset).prefix(4))
        }.joined(separator: " ")
    }

    /// The time step a 6-digit `code` is right for, within one step either side of `date` (clocks drift), or nil.
    static func totpStep(for code: String, secret: String, at date: Date) -> Int64? {
        let digits = code.filter { !$0.isWhitespace }
        guard digits.count == 6, let value = Int(digits) else { return nil }
        let totp = TOTP(secret: secret)
        let now = Int64(date.timeIntervalSince1970) / 30
        for step in [now, now - 1, now + 1] where totp.compute(date: Date(timeIntervalSince1970: Double(step * 30))) == value {
            return step
        }
        return nil
    }

    // MARK: - Recovery codes

    static let recoveryCodeCount = 10

    /// Ten codes of ten base32 characters, as `xxxxx-xxxxx`: each good once, for a user without their app.
    static func newRecoveryCodes() -> [String] {
        var generator = SystemRandomNumberGenerator()
        return (0..<recoveryCodeCount).map { _ in
            let text = String((0..<10).map { _ in base32[Int(generator.next() % 32)] }).lowercased()
            return "\(text.prefix(5))-\(text.suffix(5))"
        }
    }

    /// How a recovery code (or an invitation or session token) is kept: SHA-256, hex. They are random and long,
    /// so a fast hash is enough.
    static func digest(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A recovery code as typed: lower case, spaces gone, the hyphen optional.
    static func normalizedRecoveryCode(_ text: String) -> String {
        let plain = text.lowercased().filter { $0.isLetter || $0.isNumber }
        guard plain.count == 10 else { return plain }
        return "\(plain.prefix(5))-\(plain.suffix(5))"
    }
}

import Crypto
import Foundation

/// The one-time code that proves a data subject controls the address a request names: eight digits, sent through
/// the outbox, stored only as a hash, valid for a limited time and a limited number of attempts.
public struct VerificationCode: Sendable {
    public static let lifetime: TimeInterval = 24 * 3600
    public static let maximumAttempts = 5

    /// A fresh code of eight digits.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(format: "%08d", Int.random(in: 0..<100_000_000, using: &generator))
    }

    /// The stored form: hex SHA-256 of the request id and the code, so that a code is useless for another request.
    public static func hash(_ code: String, requestID: String) -> String {
        SHA256.hash(data: Data("\(requestID):\(code.trimmingCharacters(in: .whitespaces))".utf8)).hexString
    }

    /// Compares a code with the stored hash in constant time.
    public static func matches(_ code: String, requestID: String, hash: String) -> Bool {
        ConstantTime.equal(Array(Self.hash(code, requestID: requestID).utf8), Array(hash.utf8))
    }
}

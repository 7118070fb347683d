import Crypto
import Foundation

/// A bearer token: `mrd_` and 43 characters of base64url (256 random bits). It is shown once and only its
/// SHA-256 is stored; with that much entropy a slow password hash would add nothing.
public struct BearerToken: Sendable {
    public static let prefix = "mrd_"
    public let secret: String

    public init(secret: String) { self.secret = secret }

    public static func generate() -> BearerToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return BearerToken(secret: prefix + Base64URL.encode(bytes))
    }

    /// The stored form: hex SHA-256 of the whole token text.
    public var hash: String { Self.hash(of: secret) }

    public static func hash(of secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).hexString
    }

    /// Whether an `Authorization: Bearer <token>` header carries the token whose hash is `hash`, compared in
    /// constant time. For the shared node token, which is known by its hash alone.
    public static func matches(authorization header: String, hash: String) -> Bool {
        guard header.hasPrefix("Bearer ") else { return false }
        return ConstantTime.equal(Array(Self.hash(of: String(header.dropFirst("Bearer ".count))).utf8), Array(hash.utf8))
    }

    /// Cheap shape check done before touching the database.
    public static func isWellFormed(_ text: String) -> Bool {
        text.hasPrefix(prefix) && text.utf8.count == prefix.utf8.count + 43
            && text.utf8.dropFirst(prefix.utf8.count).allSatisfy(Base64URL.isAlphabet)
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal. Written byte by byte from a table: it hashes every request's bearer token and every
    /// audit entry, and `String(_:radix:)` per digit cost more than the SHA-256 before it.
    public var hexString: String {
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        digits.withUTF8Buffer { table in
            for byte in self {
                out.append(table[Int(byte >> 4)])
                out.append(table[Int(byte & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

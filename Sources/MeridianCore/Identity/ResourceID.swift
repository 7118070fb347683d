import Foundation

/// Makes resource ids such as `cus_01JD3F5Q8R2M7XK4N6PB9TZCVW`: a type prefix and a ULID (48-bit millisecond
/// time plus 80 random bits, Crockford base32), so ids sort by creation time and can be paginated by id.
public enum ResourceID {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func make(prefix: String, at date: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        return make(prefix: prefix, at: date, using: &generator)
    }

    public static func make(prefix: String, at date: Date, using generator: inout some RandomNumberGenerator) -> String {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - index))) }
        for index in 6..<16 { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        return "\(prefix)_\(crockford(bytes))"
    }

    /// 128 bits as 26 base32 characters, most significant first.
    static func crockford(_ bytes: [UInt8]) -> String {
        var value = (UInt64(0), UInt64(0))
        for (index, byte) in bytes.enumerated() {
            if index < 8 { value.0 = value.0 << 8 | UInt64(byte) } else { value.1 = value.1 << 8 | UInt64(byte) }
        }
        var out = [UInt8](repeating: 0, count: 26)
        var (high, low) = value
        for index in stride(from: 25, through: 0, by: -1) {
            out[index] = alphabet[Int(low & 31)]
            low = (low >> 5) | (high << 59)
            high >>= 5
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when `text` looks like an id this type made with `prefix`.
    public static func isWellFormed(_ text: String, prefix: String) -> Bool {
        guard text.hasPrefix(prefix + "_") else { return false }
        let body = text.utf8.dropFirst(prefix.utf8.count + 1)
        return body.count == 26 && body.allSatisfy { alphabet.contains($0) }
    }
}

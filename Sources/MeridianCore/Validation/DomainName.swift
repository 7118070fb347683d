/// A fully qualified DNS domain name in its ASCII (A-label) form, lower-cased: `example.com`, `xn--bcher-kva.ch`.
///
/// Rules: 2 or more labels, each 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen,
/// at most 253 characters, and a top-level label that is not all digits (so IP addresses are not domains).
public struct DomainName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: String

    /// One pass over the bytes, lower-casing ASCII as it goes: domains are checked for every customer in every
    /// config version and every RCPT, so this avoids `lowercased()` and `split`.
    public init?(_ text: String) {
        var bytes = Array(text.utf8)
        if bytes.last == 0x2E { bytes.removeLast() }
        guard !bytes.isEmpty, bytes.count <= 253 else { return nil }
        var labels = 0
        var start = 0
        var digitsOnly = true
        for index in 0...bytes.count {
            if index == bytes.count || bytes[index] == 0x2E {
                guard (1...63).contains(index - start), bytes[start] != 0x2D, bytes[index - 1] != 0x2D else { return nil }
                labels += 1
                if index == bytes.count { break }
                start = index + 1
                digitsOnly = true
                continue
            }
            var byte = bytes[index]
            if byte >= 0x41 && byte <= 0x5A {
                byte += 0x20
                bytes[index] = byte
            }
            let digit = byte >= 0x30 && byte <= 0x39
            guard digit || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D else { return nil }
            if !digit { digitsOnly = false }
        }
        // The top-level label is the last one scanned; all digits would make an IP address a domain.
        guard labels >= 2, !digitsOnly else { return nil }
        self.value = String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { value }
    public static func < (lhs: DomainName, rhs: DomainName) -> Bool { lhs.value < rhs.value }

    /// Why `text` is not a domain name, in words an operator can act on.
    public static func explainInvalid(_ text: String) -> String {
        if text.unicodeScalars.contains(where: { !$0.isASCII }) {
            return "\"\(text)\" is not an ASCII domain name; give internationalised names in their xn-- (A-label) form"
        }
        return "\"\(text)\" is not a valid domain name (expected labels of letters, digits and hyphens, e.g. mail.example.com)"
    }
}

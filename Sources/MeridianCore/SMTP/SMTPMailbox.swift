/// An envelope address from `MAIL FROM` or `RCPT TO` (RFC 5321 section 4.1.2), as the client sent it.
///
/// The local part keeps its spelling (including quotes); the domain is lower-cased for lookups. With
/// SMTPUTF8 (RFC 6531) both may hold UTF-8.
public struct SMTPMailbox: Sendable, Hashable, CustomStringConvertible {
    public var localPart: String
    /// A domain name or an address literal such as `[192.0.2.1]`, lower-cased.
    public var domain: String

    public init(localPart: String, domain: String) {
        self.localPart = localPart
        self.domain = domain
    }

    public var description: String { "\(localPart)@\(domain)" }
    public var isASCII: Bool { localPart.utf8.allSatisfy { $0 < 0x80 } && domain.utf8.allSatisfy { $0 < 0x80 } }

    /// Parses `local@domain` without angle brackets; `nil` when it is not a valid RFC 5321 mailbox.
    public init?(_ text: String) {
        var reader = ByteReader(Array(text.utf8)[...])
        guard let mailbox = try? reader.mailbox(), reader.isAtEnd else { return nil }
        self = mailbox
    }
}

// MARK: - ASCII classes

@inline(__always) func asciiUppercase(_ byte: UInt8) -> UInt8 { byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte }
@inline(__always) func asciiLowercase(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
@inline(__always) func isLetterOrDigit(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
}

/// RFC 5322 `atext`: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
@inline(__always) func isAtext(_ byte: UInt8) -> Bool {
    if isLetterOrDigit(byte) { return true }
    switch byte {
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2F, 0x3D, 0x3F, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E:
        return true
    default:
        return false
    }
}

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

/// Why a path in a command could not be read; the session turns it into a 501 or 553 reply.
struct SMTPPathError: Error {
    let detail: String
}

/// A cursor over the bytes of one command line.
struct ByteReader {
    private(set) var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { bytes.isEmpty }
    var peek: UInt8? { bytes.first }
    var rest: ArraySlice<UInt8> { bytes }

    mutating func skipSpaces() {
        while let byte = bytes.first, byte == 0x20 || byte == 0x09 { bytes.removeFirst() }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard bytes.first == byte else { return false }
        bytes.removeFirst()
        return true
    }

    /// Consumes `prefix` compared without regard to ASCII case.
    mutating func consumeCaseInsensitive(_ prefix: String) -> Bool {
        let expected = Array(prefix.utf8)
        guard bytes.count >= expected.count else { return false }
        for (offset, byte) in expected.enumerated() where asciiUppercase(bytes[bytes.startIndex + offset]) != asciiUppercase(byte) {
            return false
        }
        bytes.removeFirst(expected.count)
        return true
    }

    // MARK: Paths

    /// `<>` gives `nil`; `<[@route,...:]local@domain>` gives the mailbox (the source route is ignored, RFC 5321 C).
    mutating func path(allowNull: Bool) throws(SMTPPathError) -> SMTPMailbox? {
        guard consume(0x3C) else { throw SMTPPathError(detail: "the address must be enclosed in <>") }
        if consume(0x3E) {
            guard allowNull else { throw SMTPPathError(detail: "the null address <> is not a valid recipient") }
            return nil
        }
        if peek == 0x40 {
            while let byte = bytes.first, byte != 0x3A, byte != 0x3E { bytes.removeFirst() }
            guard consume(0x3A) else { throw SMTPPathError(detail: "malformed source route") }
        }
        let mailbox = try mailbox()
        guard consume(0x3E) else { throw SMTPPathError(detail: "unexpected text in the address, or a missing >") }
        return mailbox
    }

    mutating func mailbox() throws(SMTPPathError) -> SMTPMailbox {
        let local = try localPart()
        guard consume(0x40) else { throw SMTPPathError(detail: "the address has no @domain") }
        let domain = try domain()
        guard local.count <= 64 else { throw SMTPPathError(detail: "the local part is longer than 64 octets") }
        guard domain.count <= 255 else { throw SMTPPathError(detail: "the domain is longer than 255 octets") }
        return SMTPMailbox(localPart: String(decoding: local, as: UTF8.self), domain: String(decoding: domain, as: UTF8.self))
    }

    private mutating func localPart() throws(SMTPPathError) -> [UInt8] {
        var local: [UInt8] = []
        if consume(0x22) {
            local.append(0x22)
            while true {
                guard let byte = bytes.popFirst() else { throw SMTPPathError(detail: "unterminated quoted local part") }
                local.append(byte)
                if byte == 0x22 { break }
                if byte == 0x5C {
                    guard let escaped = bytes.popFirst(), escaped >= 0x20 else { throw SMTPPathError(detail: "bad escape in the local part") }
                    local.append(escaped)
                } else if byte < 0x20 || byte == 0x7F {
                    throw SMTPPathError(detail: "control character in the local part")
                }
            }
            return local
        }
        while let byte = bytes.first, isAtext(byte) || byte == 0x2E || byte >= 0x80 {
            local.append(byte)
            bytes.removeFirst()
        }
        guard !local.isEmpty, local.first != 0x2E, local.last != 0x2E, !containsDoubleDot(local) else {
            throw SMTPPathError(detail: "the local part is not a valid dot-string")
        }
        return local
    }

    private mutating func domain() throws(SMTPPathError) -> [UInt8] {
        var domain: [UInt8] = []
        if consume(0x5B) {
            domain.append(0x5B)
            while let byte = bytes.popFirst() {
                guard byte > 0x20, byte != 0x5B, byte < 0x7F else { throw SMTPPathError(detail: "malformed address literal") }
                domain.append(byte)
                if byte == 0x5D { return domain.map(asciiLowercase) }
            }
            throw SMTPPathError(detail: "unterminated address literal")
        }
        while let byte = bytes.first, isLetterOrDigit(byte) || byte == 0x2D || byte == 0x2E || byte >= 0x80 {
            domain.append(asciiLowercase(byte))
            bytes.removeFirst()
        }
        guard !domain.isEmpty, domain.first != 0x2E, domain.last != 0x2E, !containsDoubleDot(domain) else {
            throw SMTPPathError(detail: "the domain is not a valid domain name")
        }
        return domain
    }

    private func containsDoubleDot(_ bytes: [UInt8]) -> Bool {
        zip(bytes, bytes.dropFirst()).contains { $0 == 0x2E && $1 == 0x2E }
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

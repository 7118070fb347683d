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

/// Turns the bytes of a text part or header into a String according to its declared charset.
///
/// UTF-8, US-ASCII, ISO-8859-1 to -16, Windows-1250 to -1258 and KOI8-R/-U are decoded exactly. As the WHATWG
/// Encoding Standard does, ISO-8859-1 and US-ASCII labels are read as Windows-1252, which is what senders
/// mean by them. An unknown charset keeps the bytes: valid UTF-8 is shown as such, anything else lossily,
/// and the caller flags it.
enum Charset: Sendable {
    case utf8
    /// US-ASCII, or no charset at all: 8-bit bytes are read as UTF-8 when valid, else as Windows-1252,
    /// and the result is not exact.
    case ascii
    /// A charset of one byte per character, as a table of the UTF-8 of each byte (``utf8Table(_:)``).
    case singleByte([UInt32])

    /// The charset for a MIME label, or `nil` when it is not one we decode.
    init?(label: String) {
        // Most text says UTF-8, spelt so: that needs no folding and no table.
        if label.utf8.count == 5, label.utf8.elementsEqual("utf-8".utf8, by: { asciiLowercase($0) == $1 }) {
            self = .utf8
            return
        }
        var name = label.lowercased()
        name.removeAll { $0 == "\"" || $0 == "'" || $0 == " " }
        if let alias = Self.aliases[name] { name = alias }
        if name.hasPrefix("iso8859-") || name.hasPrefix("iso_8859-") || name.hasPrefix("iso-8859_") || name.hasPrefix("iso8859_") {
            name = "iso-8859-" + name.split(whereSeparator: { $0 == "-" || $0 == "_" }).last!
        } else if name.hasPrefix("cp125") || name.hasPrefix("x-cp125") {
            name = "windows-" + name.drop(while: { !$0.isNumber })
        }
        if name == "utf-8" {
            self = .utf8
        } else if name == "us-ascii" {
            self = .ascii
        } else if let table = Self.utf8Tables[name] {
            self = .singleByte(table)
        } else {
            return nil
        }
    }

    private static let aliases: [String: String] = [
        "utf8": "utf-8", "ascii": "us-ascii", "ansi_x3.4-1968": "us-ascii", "646": "us-ascii",
        "iso-8859-1": "windows-1252", "latin1": "windows-1252", "l1": "windows-1252", "iso_8859-1": "windows-1252",
        "iso8859-1": "windows-1252", "latin2": "iso-8859-2", "latin3": "iso-8859-3", "latin4": "iso-8859-4",
        "cyrillic": "iso-8859-5", "arabic": "iso-8859-6", "greek": "iso-8859-7", "hebrew": "iso-8859-8",
        "latin5": "iso-8859-9", "latin6": "iso-8859-10", "latin7": "iso-8859-13", "latin8": "iso-8859-14",
        "latin9": "iso-8859-15", "latin10": "iso-8859-16", "koi8r": "koi8-r", "koi8u": "koi8-u",
    ]

    /// Decodes `bytes`; `exact` is false when a byte was invalid in the charset and became U+FFFD.
    func decode(_ bytes: ArraySlice<UInt8>) -> (text: String, exact: Bool) {
        if case .utf8 = self {
            if let text = String(validating: bytes, as: UTF8.self) { return (text, true) }
            return (String(decoding: bytes, as: UTF8.self), false)
        }
        let (utf8, exact) = decodeToUTF8(Array(bytes), known: nil)
        return (String(decoding: utf8, as: UTF8.self), exact)
    }

    /// Decodes `bytes` to UTF-8 bytes, with no `String` made: a text body goes from here into the payload as it is.
    /// `known` says whether `bytes` are UTF-8, when the decoder that wrote them checked (nil: not checked).
    func decodeToUTF8(_ bytes: [UInt8], known valid: Bool?) -> (utf8: [UInt8], exact: Bool) {
        switch self {
        case .utf8:
            if valid ?? UTF8Validator.isValid(bytes) { return (bytes, true) }
            return (Array(String(decoding: bytes, as: UTF8.self).utf8), false)
        case .ascii:
            if Self.isASCII(bytes) { return (bytes, true) }
            if valid ?? UTF8Validator.isValid(bytes) { return (bytes, false) }
            return (Charset.windows1252.decodeToUTF8(bytes, known: false).utf8, false)
        case let .singleByte(table):
            if Self.isASCII(bytes) { return (bytes, true) }
            // Each byte's entry is stored whole (four bytes) and the output moves on by its length: no branch per
            // byte. The last store needs one byte past three for each input byte.
            var undefined: UInt32 = 0
            let utf8 = [UInt8](unsafeUninitializedCapacity: bytes.count * 3 + 1) { output, written in
                guard let out = output.baseAddress else { return }
                table.withUnsafeBufferPointer { table in
                    var count = 0
                    for byte in bytes {
                        let entry = table[Int(byte)]
                        UnsafeMutableRawPointer(out + count).storeBytes(of: entry.littleEndian, as: UInt32.self)
                        count += Int(entry >> 24 & 3)
                        undefined |= entry
                    }
                    written = count
                }
            }
            return (utf8, undefined & 0x8000_0000 == 0)
        }
    }

    static let windows1252 = Charset.singleByte(utf8Table(CharsetTables.windows_1252))

    /// The tables of ``CharsetTables``, each made once into a ``utf8Table(_:)``.
    private static let utf8Tables = CharsetTables.byName.mapValues(utf8Table)

    /// For each of the 256 bytes, the UTF-8 it stands for in a charset whose bytes 0x80 to 0xFF map to `upper`
    /// (0xFFFF where the charset leaves a byte undefined): the UTF-8 in the low three bytes, its length in the
    /// fourth, and the top bit set for an undefined byte, which becomes U+FFFD.
    static func utf8Table(_ upper: [UInt16]) -> [UInt32] {
        (0..<256).map { byte in
            guard byte >= 0x80 else { return UInt32(byte) | 1 << 24 }
            let scalar = UInt32(upper[byte - 0x80])
            var utf8: [UInt8] = []
            appendUTF8(scalar == 0xFFFF ? 0xFFFD : scalar, to: &utf8)
            let packed = utf8.enumerated().reduce(UInt32(utf8.count) << 24) { $0 | UInt32($1.element) << (8 * $1.offset) }
            return scalar == 0xFFFF ? packed | 0x8000_0000 : packed
        }
    }

    /// Whether every byte is below 0x80: an OR over all of them, with no early exit, so the compiler vectorises it.
    static func isASCII(_ bytes: [UInt8]) -> Bool {
        var union: UInt8 = 0
        for byte in bytes { union |= byte }
        return union < 0x80
    }

    private static func appendUTF8(_ scalar: UInt32, to utf8: inout [UInt8]) {
        if scalar < 0x800 {
            utf8.append(UInt8(0xC0 | (scalar >> 6)))
            utf8.append(UInt8(0x80 | (scalar & 0x3F)))
        } else {
            utf8.append(UInt8(0xE0 | (scalar >> 12)))
            utf8.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            utf8.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }
}

extension Charset {
    /// Decodes text in the charset a MIME label names, flagging an unknown charset and invalid bytes.
    /// `undecodable` is true when the charset is unknown and the bytes are not UTF-8 either: the text is
    /// then lossy, and the caller may keep the bytes.
    static func decode(_ bytes: ArraySlice<UInt8>, label: String, flags: inout Set<MIMEFlag>) -> (text: String, undecodable: Bool) {
        guard let charset = Charset(label: label) else {
            flags.insert(.unknownCharset)
            if let text = String(validating: bytes, as: UTF8.self) { return (text, false) }
            return (String(decoding: bytes, as: UTF8.self), true)
        }
        let (text, exact) = charset.decode(bytes)
        if !exact { flags.insert(.invalidCharsetData) }
        return (text, false)
    }

    /// ``decode(_:label:flags:)`` to UTF-8 bytes: see ``decodeToUTF8(_:known:)``.
    static func decodeToUTF8(_ bytes: [UInt8], known valid: Bool?, label: String, flags: inout Set<MIMEFlag>) -> (utf8: [UInt8], undecodable: Bool) {
        guard let charset = Charset(label: label) else {
            flags.insert(.unknownCharset)
            if valid ?? UTF8Validator.isValid(bytes) { return (bytes, false) }
            return (Array(String(decoding: bytes, as: UTF8.self).utf8), true)
        }
        let (utf8, exact) = charset.decodeToUTF8(bytes, known: valid)
        if !exact { flags.insert(.invalidCharsetData) }
        return (utf8, false)
    }

    /// Header text with no declared charset: UTF-8 when it is valid (RFC 6532), else Windows-1252.
    static func decodeUndeclared(_ bytes: ArraySlice<UInt8>) -> (text: String, wasUTF8: Bool) {
        if let text = String(validating: bytes, as: UTF8.self) { return (text, true) }
        return (Charset.windows1252.decode(bytes).text, false)
    }
}

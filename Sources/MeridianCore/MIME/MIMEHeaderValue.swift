/// A structured header value such as `Content-Type` or `Content-Disposition`: a lower-cased main value and
/// its parameters (RFC 2045 section 5.1), with RFC 2231 extended and continued parameters joined and decoded.
public struct MIMEHeaderValue: Sendable, Hashable {
    /// For example `multipart/mixed` or `attachment`, lower-cased.
    public var value: String
    /// Parameter names are lower-cased; values are decoded text.
    public var parameters: [String: String]

    public init(value: String, parameters: [String: String] = [:]) {
        self.value = value
        self.parameters = parameters
    }

    /// Parses a raw header value. Never fails: what cannot be read is skipped and flagged.
    static func parse(_ raw: [UInt8], flags: inout Set<MIMEFlag>) -> MIMEHeaderValue {
        var index = 0
        let end = raw.count
        func skipWhitespace() { while index < end, raw[index] == 0x20 || raw[index] == 0x09 { index += 1 } }

        skipWhitespace()
        let valueStart = index
        while index < end, raw[index] != 0x3B { index += 1 }
        var main = raw[valueStart..<index]
        while let last = main.last, last == 0x20 || last == 0x09 { main = main.dropLast() }
        let value = String(decoding: main.map(asciiLowercase), as: UTF8.self)

        // RFC 2231 sections: name -> [section number: (text, extended)].
        var sections: [String: [Int: (text: [UInt8], extended: Bool)]] = [:]
        var plain: [String: [UInt8]] = [:]
        while index < end {
            index += 1  // the ";"
            skipWhitespace()
            let nameStart = index
            while index < end, raw[index] != 0x3D, raw[index] != 0x3B { index += 1 }
            guard index < end, raw[index] == 0x3D else { continue }
            var nameBytes = raw[nameStart..<index]
            while let last = nameBytes.last, last == 0x20 || last == 0x09 { nameBytes = nameBytes.dropLast() }
            let name = String(decoding: nameBytes.map(asciiLowercase), as: UTF8.self)
            index += 1
            skipWhitespace()
            var text: [UInt8] = []
            if index < end, raw[index] == 0x22 {
                index += 1
                // At most the rest of the field: one allocation, not one each time the byte-by-byte copy outgrows it.
                text.reserveCapacity(end - index)
                while index < end, raw[index] != 0x22 {
                    if raw[index] == 0x5C, index + 1 < end { index += 1 }
                    text.append(raw[index])
                    index += 1
                }
                if index < end { index += 1 } else { flags.insert(.malformedParameter) }
                while index < end, raw[index] != 0x3B { index += 1 }
            } else {
                let textStart = index
                while index < end, raw[index] != 0x3B { index += 1 }
                var textEnd = index
                while textEnd > textStart, raw[textEnd - 1] == 0x20 || raw[textEnd - 1] == 0x09 { textEnd -= 1 }
                text = Array(raw[textStart..<textEnd])
            }
            guard !name.isEmpty else { continue }
            let parts = name.split(separator: "*", omittingEmptySubsequences: false)
            if parts.count == 1 {
                plain[name] = plain[name] ?? text
            } else if let base = parts.first.map(String.init) {
                // name*=ext, name*N=text, name*N*=ext
                let section = parts.count == 3 || (parts.count == 2 && !parts[1].isEmpty) ? Int(parts[1]) : 0
                let extended = parts.last!.isEmpty
                if let section, section < 1000 { sections[base, default: [:]][section] = (text, extended) }
                else { flags.insert(.malformedParameter) }
            }
        }

        var parameters: [String: String] = [:]
        for (name, text) in plain {
            parameters[name] = EncodedWords.decode(text[...], flags: &flags)
        }
        for (name, parts) in sections {
            parameters[name] = joinSections(parts, flags: &flags)
        }
        return MIMEHeaderValue(value: value, parameters: parameters)
    }

    /// Joins RFC 2231 continuations in section order; the first extended section names the charset.
    private static func joinSections(_ parts: [Int: (text: [UInt8], extended: Bool)], flags: inout Set<MIMEFlag>) -> String {
        var charset: String?
        var bytes: [UInt8] = []
        for section in parts.keys.sorted() {
            guard let part = parts[section] else { continue }
            var text = part.text[...]
            if part.extended {
                if section == parts.keys.min() {
                    // charset'language'value
                    let quotes = text.indices.filter { text[$0] == 0x27 }.prefix(2)
                    if quotes.count == 2 {
                        charset = String(decoding: text[text.startIndex..<quotes.first!], as: UTF8.self)
                        text = text[(quotes.last! + 1)...]
                    }
                }
                bytes += percentDecode(text, flags: &flags)
            } else {
                bytes += text
            }
        }
        if let charset, !charset.isEmpty {
            return Charset.decode(bytes[...], label: charset, flags: &flags).text
        }
        return Charset.decodeUndeclared(bytes[...]).text
    }

    private static func percentDecode(_ text: ArraySlice<UInt8>, flags: inout Set<MIMEFlag>) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == 0x25, index + 2 < text.endIndex,
                let high = TransferEncoding.hexValue(text[index + 1]), let low = TransferEncoding.hexValue(text[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                if text[index] == 0x25 { flags.insert(.malformedParameter) }
                bytes.append(text[index])
                index += 1
            }
        }
        return bytes
    }
}

/// RFC 2047 encoded words (`=?charset?B|Q?text?=`) in header values.
enum EncodedWords {
    /// Decodes a header value: encoded words become text, whitespace between adjacent encoded words is
    /// dropped (RFC 2047 section 6.2), and the rest is read as UTF-8 or, failing that, Windows-1252.
    static func decode(_ raw: ArraySlice<UInt8>, flags: inout Set<MIMEFlag>) -> String {
        guard raw.contains(where: { $0 >= 0x80 || $0 == 0x3F }) else { return String(decoding: raw, as: UTF8.self) }
        var output = ""
        var literalStart = raw.startIndex
        var index = raw.startIndex
        var lastWasEncodedWord = false
        var noTerminatorBefore = raw.startIndex
        while index < raw.endIndex {
            guard raw[index] == 0x3D, index + 1 < raw.endIndex, raw[index + 1] == 0x3F,
                let (text, end) = encodedWord(raw, at: index, noTerminatorBefore: &noTerminatorBefore, flags: &flags)
            else {
                index += 1
                continue
            }
            let literal = raw[literalStart..<index]
            if !(lastWasEncodedWord && literal.allSatisfy({ $0 == 0x20 || $0 == 0x09 })) {
                output += literalText(literal, flags: &flags)
            }
            output += text
            lastWasEncodedWord = true
            index = end
            literalStart = end
        }
        output += literalText(raw[literalStart...], flags: &flags)
        return output
    }

    private static func literalText(_ bytes: ArraySlice<UInt8>, flags: inout Set<MIMEFlag>) -> String {
        let (text, wasUTF8) = Charset.decodeUndeclared(bytes)
        if !wasUTF8 { flags.insert(.invalidHeaderBytes) }
        return text
    }

    /// The encoded word starting at `start`, decoded, and the index after it; `nil` if it is not one.
    ///
    /// `noTerminatorBefore` remembers how far a failed search for `?=` got, so a header full of `=?` without
    /// any `?=` is read in linear time.
    static func encodedWord(
        _ raw: ArraySlice<UInt8>, at start: Int, noTerminatorBefore: inout Int, flags: inout Set<MIMEFlag>
    ) -> (String, Int)? {
        var index = start + 2
        let charsetStart = index
        while index < raw.endIndex, raw[index] != 0x3F, index - charsetStart < 64 {
            guard raw[index] > 0x20, raw[index] < 0x7F else { return nil }
            index += 1
        }
        guard index < raw.endIndex, raw[index] == 0x3F, index > charsetStart, index + 2 < raw.endIndex,
            raw[index + 2] == 0x3F
        else { return nil }
        var label = String(decoding: raw[charsetStart..<index], as: UTF8.self)
        if let star = label.firstIndex(of: "*") { label = String(label[..<star]) }
        let encoding = asciiUppercase(raw[index + 1])
        let textStart = index + 3
        guard textStart >= noTerminatorBefore else { return nil }
        var textEnd = textStart
        while textEnd + 1 < raw.endIndex, !(raw[textEnd] == 0x3F && raw[textEnd + 1] == 0x3D) {
            guard raw[textEnd] > 0x20 else {
                noTerminatorBefore = textEnd
                return nil
            }
            textEnd += 1
        }
        guard textEnd + 1 < raw.endIndex else {
            noTerminatorBefore = raw.endIndex
            return nil
        }
        let encoded = raw[textStart..<textEnd]
        let bytes: [UInt8]
        switch encoding {
        case 0x42:
            let (decoded, clean) = TransferEncoding.decodeBase64(encoded)
            if !clean { flags.insert(.invalidEncodedWord) }
            bytes = decoded
        case 0x51:
            bytes = decodeQ(encoded, flags: &flags)
        default:
            flags.insert(.invalidEncodedWord)
            return nil
        }
        return (Charset.decode(bytes[...], label: label, flags: &flags).text, textEnd + 2)
    }

    /// The "Q" encoding: quoted-printable with `_` for space (RFC 2047 section 4.2).
    private static func decodeQ(_ encoded: ArraySlice<UInt8>, flags: inout Set<MIMEFlag>) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let byte = encoded[index]
            if byte == 0x5F {
                bytes.append(0x20)
            } else if byte == 0x3D, index + 2 < encoded.endIndex,
                let high = TransferEncoding.hexValue(encoded[index + 1]), let low = TransferEncoding.hexValue(encoded[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 2
            } else {
                if byte == 0x3D { flags.insert(.invalidEncodedWord) }
                bytes.append(byte)
            }
            index += 1
        }
        return bytes
    }
}

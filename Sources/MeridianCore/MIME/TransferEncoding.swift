/// Content-Transfer-Encoding decoders (RFC 2045 section 6). Both are lenient: they decode what they can,
/// skip what they cannot, and report whether the input was clean.
enum TransferEncoding {
    /// base64 with line breaks and whitespace skipped. `clean` is false when other bytes were skipped or
    /// the data stopped mid-quantum.
    static func decodeBase64(_ input: ArraySlice<UInt8>) -> (bytes: [UInt8], clean: Bool) {
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var clean = true
        var accumulator: UInt32 = 0
        var pending = 0
        var sawPadding = false
        input.withContiguousStorageIfAvailable { buffer in
            for byte in buffer {
                let value = base64DecodeTable[Int(byte)]
                if value < 64 {
                    if sawPadding { clean = false }
                    accumulator = accumulator << 6 | UInt32(value)
                    pending += 1
                    if pending == 4 {
                        output.append(UInt8(truncatingIfNeeded: accumulator >> 16))
                        output.append(UInt8(truncatingIfNeeded: accumulator >> 8))
                        output.append(UInt8(truncatingIfNeeded: accumulator))
                        pending = 0
                        accumulator = 0
                    }
                } else if byte == 0x3D {
                    sawPadding = true
                } else if value == whitespace {
                    continue
                } else {
                    clean = false
                }
            }
        }
        switch pending {
        case 2: output.append(UInt8(truncatingIfNeeded: accumulator >> 4))
        case 3:
            output.append(UInt8(truncatingIfNeeded: accumulator >> 10))
            output.append(UInt8(truncatingIfNeeded: accumulator >> 2))
        case 1: clean = false
        default: break
        }
        return (output, clean)
    }

    /// base64 as it may appear in a JSON string without decoding: the same text with the line breaks
    /// removed, and the size of the data it stands for. `nil` unless the input is canonical base64 apart
    /// from whitespace, so the caller falls back to decoding and re-encoding.
    static func compactBase64(_ input: ArraySlice<UInt8>) -> (text: [UInt8], decodedSize: Int)? {
        var text: [UInt8] = []
        text.reserveCapacity(input.count)
        var padding = 0
        let valid: Bool = input.withContiguousStorageIfAvailable { buffer -> Bool in
            for byte in buffer {
                let value = base64DecodeTable[Int(byte)]
                if value < 64 {
                    if padding > 0 { return false }
                    text.append(byte)
                } else if byte == 0x3D {
                    padding += 1
                    if padding > 2 { return false }
                    text.append(byte)
                } else if value != whitespace {
                    return false
                }
            }
            return true
        } ?? false
        guard valid, text.count % 4 == 0 else { return nil }
        return (text, text.count / 4 * 3 - padding)
    }

    /// Quoted-printable: `=XX` escapes, soft line breaks, trailing whitespace before a line break removed.
    static func decodeQuotedPrintable(_ input: ArraySlice<UInt8>) -> (bytes: [UInt8], clean: Bool) {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var clean = true
        var index = input.startIndex
        let end = input.endIndex
        while index < end {
            let byte = input[index]
            if byte == 0x3D {
                if index + 2 < end, let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2]) {
                    output.append(high << 4 | low)
                    index += 3
                    continue
                }
                // A soft line break: "=" then optional whitespace then CRLF or LF.
                var probe = index + 1
                while probe < end, input[probe] == 0x20 || input[probe] == 0x09 { probe += 1 }
                if probe < end, input[probe] == 0x0D, probe + 1 < end, input[probe + 1] == 0x0A {
                    index = probe + 2
                    continue
                }
                if probe < end, input[probe] == 0x0A {
                    index = probe + 1
                    continue
                }
                if probe == end {
                    index = end
                    continue
                }
                clean = false
                output.append(byte)
                index += 1
            } else if byte == 0x20 || byte == 0x09 {
                // Trailing whitespace on an encoded line was added in transport (RFC 2045 6.7 rule 3).
                var probe = index
                while probe < end, input[probe] == 0x20 || input[probe] == 0x09 { probe += 1 }
                if probe == end || input[probe] == 0x0A || (input[probe] == 0x0D && probe + 1 < end && input[probe + 1] == 0x0A) {
                    index = probe
                } else {
                    output.append(contentsOf: input[index..<probe])
                    index = probe
                }
            } else {
                output.append(byte)
                index += 1
            }
        }
        return (output, clean)
    }

    @inline(__always) static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

private let whitespace: UInt8 = 0xFE

/// 0-63 for base64 digits, 0xFE for whitespace, 0xFF for anything else.
let base64DecodeTable: [UInt8] = {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
        table[Int(byte)] = UInt8(index)
    }
    for byte in [0x20, 0x09, 0x0D, 0x0A] as [UInt8] { table[Int(byte)] = whitespace }
    return table
}()

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        var valid = true
        var padding = 0
        let text = [UInt8](unsafeUninitializedCapacity: input.count) { output, written in
            input.withContiguousStorageIfAvailable { source in
                base64DecodeTable.withUnsafeBufferPointer { table in
                    guard let base = source.baseAddress, let out = output.baseAddress else { return }
                    var end = source.count
                    // Padding and line breaks at the very end; everything before must be alphabet or CR/LF.
                    while end > 0, table[Int(base[end - 1])] == whitespace { end -= 1 }
                    while end > 0, base[end - 1] == 0x3D, padding < 3 { end -= 1; padding += 1 }
                    var count = 0
                    var lineStart = 0
                    while lineStart < end {
                        // The line runs to the next LF (found with memchr), without a CR before it.
                        var lineEnd = memchr(base + lineStart, 0x0A, end - lineStart).map {
                            UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base
                        } ?? end
                        let next = lineEnd + 1
                        if lineEnd > lineStart, base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                        // Branch-free check: any byte outside the alphabet sets the high bits.
                        var bits: UInt8 = 0
                        var index = lineStart
                        while index + 4 <= lineEnd {
                            bits |= table[Int(base[index])] | table[Int(base[index + 1])] | table[Int(base[index + 2])] | table[Int(base[index + 3])]
                            index += 4
                        }
                        while index < lineEnd {
                            bits |= table[Int(base[index])]
                            index += 1
                        }
                        guard bits < 64 else { valid = false; return }
                        (out + count).update(from: base + lineStart, count: lineEnd - lineStart)
                        count += lineEnd - lineStart
                        lineStart = next
                    }
                    for _ in 0..<padding {
                        out[count] = 0x3D
                        count += 1
                    }
                    written = count
                }
            }
        }
        guard valid, padding <= 2, text.count % 4 == 0 else { return nil }
        return (text, text.count / 4 * 3 - padding)
    }

    /// Quoted-printable: `=XX` escapes, soft line breaks, trailing whitespace before a line break removed
    /// (RFC 2045 section 6.7). Line by line, with memchr finding the line ends and the escapes.
    static func decodeQuotedPrintable(_ input: ArraySlice<UInt8>) -> (bytes: [UInt8], clean: Bool) {
        var clean = true
        let output = [UInt8](unsafeUninitializedCapacity: input.count) { output, written in
            var count = 0
            input.withContiguousStorageIfAvailable { source in
                guard let base = source.baseAddress, let out = output.baseAddress else { return }
                let end = source.count
                var lineStart = 0
                while lineStart < end {
                    let lineFeed = memchr(base + lineStart, 0x0A, end - lineStart).map {
                        UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base
                    }
                    var contentEnd = lineFeed ?? end
                    if contentEnd > lineStart, base[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                    // Trailing whitespace on an encoded line was added in transport (rule 3).
                    var trimmedEnd = contentEnd
                    while trimmedEnd > lineStart, base[trimmedEnd - 1] == 0x20 || base[trimmedEnd - 1] == 0x09 { trimmedEnd -= 1 }
                    var index = lineStart
                    var softBreak = false
                    while index < trimmedEnd {
                        let equals = memchr(base + index, 0x3D, trimmedEnd - index).map {
                            UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base
                        } ?? trimmedEnd
                        (out + count).update(from: base + index, count: equals - index)
                        count += equals - index
                        index = equals
                        guard index < trimmedEnd else { break }
                        if index + 2 < trimmedEnd, let high = hexValue(base[index + 1]), let low = hexValue(base[index + 2]) {
                            out[count] = high << 4 | low
                            count += 1
                            index += 3
                        } else if index == trimmedEnd - 1 {
                            softBreak = true
                            index += 1
                        } else {
                            clean = false
                            out[count] = 0x3D
                            count += 1
                            index += 1
                        }
                    }
                    guard let lineFeed else { break }
                    if !softBreak {
                        (out + count).update(from: base + contentEnd, count: lineFeed + 1 - contentEnd)
                        count += lineFeed + 1 - contentEnd
                    }
                    lineStart = lineFeed + 1
                }
            }
            written = count
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

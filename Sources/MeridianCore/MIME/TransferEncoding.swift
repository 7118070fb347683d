import CMeridianBytes

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
                } else if value == base64Whitespace {
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

    /// Quoted-printable: `=XX` escapes, soft line breaks, trailing whitespace before a line break removed
    /// (RFC 2045 section 6.7). `clean` is false when an `=` starts neither an escape nor a soft break (it is kept).
    /// `utf8` says whether the output is UTF-8 (checked as it is written, or with the vector loop once over the output
    /// by ``UTF8Validator``), so that text need not be checked again. With `lineFeeds`, each CR that the output has
    /// before an LF is dropped, as ``MessageContent/unixLineEndings(_:)`` would drop it afterwards: text for JSON gets
    /// LF line ends in this pass.
    ///
    /// Where the processor has AVX-512, 64 bytes a step with masks (`meridian_qp_decode_blocks`, in C): text heavy
    /// with escaped UTF-8 (`=C3=A9`) has an escape every few bytes, and a byte loop mispredicts its branches there.
    /// The byte loop decodes what that loop leaves (a stray `=`, a blank before a line break, the last bytes), eight
    /// bytes a step while none is `=`, CR or LF (a word test, as ``JSONWriter`` skips plain text). Trailing blanks are
    /// trimmed from the output when the line break comes, back to the last escape, so `=20` at the end of a line stays.
    ///
    /// `vectors: false` leaves out the vector loop, as on a processor without it (for tests).
    static func decodeQuotedPrintable(
        _ input: ArraySlice<UInt8>, lineFeeds: Bool = false, vectors: Bool = true
    ) -> (bytes: [UInt8], clean: Bool, utf8: Bool) {
        var clean = true
        var utf8 = true
        let output = [UInt8](unsafeUninitializedCapacity: input.count) { output, written in
            written = input.withContiguousStorageIfAvailable { source in
                guard let base = source.baseAddress, let out = output.baseAddress else { return 0 }
                let decoded = decodeQuotedPrintable(base, end: source.count, into: out, lineFeeds: lineFeeds, vectors: vectors)
                (clean, utf8) = (decoded.clean, decoded.utf8)
                return decoded.count
            } ?? 0
        }
        return (output, clean, utf8)
    }

    /// The loop of ``decodeQuotedPrintable(_:lineFeeds:vectors:)``, on pointers and with nothing captured, so that its
    /// counters stay in registers.
    private static func decodeQuotedPrintable(
        _ base: UnsafePointer<UInt8>, end: Int, into out: UnsafeMutablePointer<UInt8>, lineFeeds: Bool, vectors: Bool
    ) -> (count: Int, clean: Bool, utf8: Bool) {
        var clean = true
        var count = 0
        var index = 0
        // Output before this is not trailing whitespace of the line: the line's start or its last escape.
        var kept = 0
        let vectorLoop = vectors && end >= 66 && meridian_vectors_available(Int32(MERIDIAN_VECTORS_AVX512))
        // Without the vector loop, the byte loop checks UTF-8 as it writes (`meridian_utf8_step`), stopping its words
        // at 8-bit bytes too; with it, the output is checked once at the end.
        var utf8State: UInt64 = 0
        let eightBit: UInt64 = vectorLoop ? 0 : 0x8080_8080_8080_8080
        while index < end {
            // 64 bytes a step while they hold only plain text, escapes and line breaks (the vector loop, in C);
            // it stops before anything else, which the byte loop below decodes.
            if vectorLoop, index + 66 <= end {
                var position = meridian_qp_position(input: index, output: count, kept: kept)
                meridian_qp_decode_blocks(base, end, out, lineFeeds, &position)
                (index, count, kept) = (position.input, position.output, position.kept)
            }
            // Decoding never lengthens, so count + 8 <= index + 8 <= end: the word fits the output.
            while index + 8 <= end {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                UnsafeMutableRawPointer(out + count).storeBytes(of: word, as: UInt64.self)
                let special = Self.bytesEqual(word, 0x3D) | Self.bytesEqual(word, 0x0D) | Self.bytesEqual(word, 0x0A)
                    | word & eightBit
                guard special != 0 else {
                    utf8State = meridian_utf8_step(utf8State, 0x41)
                    index += 8
                    count += 8
                    continue
                }
                let plain = special.trailingZeroBitCount / 8
                if plain > 0 { utf8State = meridian_utf8_step(utf8State, 0x41) }
                index += plain
                count += plain
                break
            }
            guard index < end else { break }
            switch base[index] {
            case 0x3D:
                // Escapes come in runs (`=D0=BF=D1=80` is two letters of Cyrillic): decode the run here.
                let runStart = index
                while index + 2 < end, base[index] == 0x3D {
                    let high = Self.hexDigit(base[index + 1]), low = Self.hexDigit(base[index + 2])
                    guard high | low < 16 else { break }
                    let byte = high << 4 | low
                    utf8State = meridian_utf8_step(utf8State, byte)
                    if byte == 0x0A, lineFeeds, count > 0, out[count - 1] == 0x0D { count -= 1 }
                    out[count] = byte
                    count += 1
                    index += 3
                }
                if index > runStart {
                    kept = count
                    continue
                }
                // A soft break: `=`, blanks, then CRLF, LF or the end.
                var next = index + 1
                while next < end, base[next] == 0x20 || base[next] == 0x09 { next += 1 }
                if next == end || base[next] == 0x0A || (base[next] == 0x0D && (next + 1 == end || base[next + 1] == 0x0A)) {
                    index = min(end, next + (next < end && base[next] == 0x0D ? 2 : 1))
                    kept = count
                } else {
                    clean = false
                    utf8State = meridian_utf8_step(utf8State, 0x3D)
                    out[count] = 0x3D
                    count += 1
                    index += 1
                }
            case 0x0D where index + 1 < end && base[index + 1] != 0x0A:
                // A CR that ends no line is text.
                utf8State = meridian_utf8_step(utf8State, 0x0D)
                out[count] = 0x0D
                count += 1
                index += 1
            case 0x0D where index + 1 == end:
                // A CR closing the input ends its last line; it is not kept.
                count = Self.trimmingBlanks(out, count: count, kept: kept)
                index += 1
            case 0x0D, 0x0A:
                // CRLF or LF: a hard line break, kept as it came (or as LF, dropping a CR before it).
                count = Self.trimmingBlanks(out, count: count, kept: kept)
                utf8State = meridian_utf8_step(utf8State, 0x0A)
                let crlf = base[index] == 0x0D
                if lineFeeds {
                    if !crlf, count > 0, out[count - 1] == 0x0D { count -= 1 }
                } else if crlf {
                    out[count] = 0x0D
                    count += 1
                }
                out[count] = 0x0A
                count += 1
                index += crlf ? 2 : 1
                kept = count
            case let byte:
                // An 8-bit byte, or one of the last few bytes, fewer than a word.
                utf8State = meridian_utf8_step(utf8State, byte)
                out[count] = byte
                count += 1
                index += 1
            }
        }
        count = Self.trimmingBlanks(out, count: count, kept: kept)
        let utf8 = vectorLoop ? UTF8Validator.isValid(UnsafeBufferPointer(start: out, count: count)) : utf8State == 0
        return (count, clean, utf8)
    }

    /// `count` less the blanks (space, tab) that end the output after `kept`.
    @inline(__always) static func trimmingBlanks(_ out: UnsafeMutablePointer<UInt8>, count: Int, kept: Int) -> Int {
        var count = count
        while count > kept, out[count - 1] == 0x20 || out[count - 1] == 0x09 { count -= 1 }
        return count
    }

    /// The high bit of each byte of `word` that equals `byte` is set in the result; the lowest set bit is exact,
    /// those above it may be false ("bit twiddling hacks", has-zero-byte).
    @inline(__always) static func bytesEqual(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let x = word ^ (ones &* UInt64(byte))
        return (x &- ones) & ~x & (ones &* 0x80)
    }

    /// 0-15 for a hex digit in either case, 0xFF for any other byte; without branches.
    @inline(__always) static func hexDigit(_ byte: UInt8) -> UInt8 {
        let digit = byte &- 0x30
        let letter = (byte | 0x20) &- 0x61
        return digit < 10 ? digit : letter < 6 ? letter &+ 10 : 0xFF
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

/// The value of CR, LF, space and tab in ``base64DecodeTable``.
let base64Whitespace: UInt8 = 0xFE

/// 0-63 for base64 digits, 0xFE for whitespace, 0xFF for anything else.
let base64DecodeTable: [UInt8] = {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
        table[Int(byte)] = UInt8(index)
    }
    for byte in [0x20, 0x09, 0x0D, 0x0A] as [UInt8] { table[Int(byte)] = base64Whitespace }
    return table
}()

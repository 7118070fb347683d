import CMeridianBytes

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A part's base64 as the message has it, when it is canonical apart from its line breaks: checked once, and
/// copied without the breaks only where it is written (``copy(into:)``, straight into a JSON payload). Clean base64
/// is most of an attachment-heavy message, so for the JSON formats it is copied once, into the payload, and never
/// decoded.
///
/// It holds a slice of the message's bytes (no copy) and where its lines lie: from the start, lines of one length
/// with one kind of break (what encoders write, 76 characters and CRLF by RFC 2045), then lines found by their LF.
public struct Base64Lines: Sendable, Hashable {
    /// The part's body, as the message has it.
    let source: ArraySlice<UInt8>
    /// Where the lines of one length stop (an offset into ``source``), their length without the break, and their
    /// length with it.
    let fixedEnd: Int, lineLength: Int, lineStride: Int
    /// Where the text stops before the trailing padding and blanks.
    let end: Int
    /// The `=` characters at the end (0 to 2).
    let padding: Int
    /// The text's length without its line breaks, padding included.
    public let count: Int

    /// The size in octets of the data the text stands for.
    public var decodedSize: Int { count / 4 * 3 - padding }

    /// The text without its line breaks, as a new array.
    public var text: [UInt8] { text(vectors: .all) }

    /// The same, copied with only `vectors` (for tests).
    func text(vectors: VectorInstructions) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, written in
            if let out = buffer.baseAddress { copy(into: out, vectors: vectors) }
            written = count
        }
    }

    /// Checks `input`: `nil` unless it is canonical base64 apart from its line breaks (CRLF or LF) and blanks after
    /// the padding, so that the caller decodes it (and encodes it again) instead. `fixedLines: false` leaves out the
    /// fast path for lines of one length, so the tests can hold it to the general loop's answers.
    public init?(checking input: ArraySlice<UInt8>, fixedLines: Bool = true) {
        self.init(checking: input, fixedLines: fixedLines, vectors: .all)
    }

    /// The same with only `vectors` for the lines of one length, so the tests can try each loop.
    init?(checking input: ArraySlice<UInt8>, fixedLines: Bool, vectors: VectorInstructions) {
        var layout: (fixedEnd: Int, lineLength: Int, lineStride: Int, end: Int, padding: Int, count: Int)?
        input.withContiguousStorageIfAvailable { source in
            guard let base = source.baseAddress else {
                layout = (0, 0, 0, 0, 0, 0)
                return
            }
            layout = Self.check(base, count: source.count, fixedLines: fixedLines, vectors: vectors)
        }
        guard let layout, layout.padding <= 2, layout.count % 4 == 0 else { return nil }
        source = input
        (fixedEnd, lineLength, lineStride, end, padding, count) = layout
    }

    /// Writes the ``count`` bytes of the text, without its line breaks, from `out` on.
    public func copy(into out: UnsafeMutablePointer<UInt8>) { copy(into: out, vectors: .all) }

    /// The same with only `vectors` for the lines of one length.
    func copy(into out: UnsafeMutablePointer<UInt8>, vectors: VectorInstructions) {
        source.withContiguousStorageIfAvailable { source in
            guard let base = source.baseAddress else { return }
            var written = 0
            // The lines of one length were all checked: each is copied whole, with no search for its end (in C, a line
            // in one or two 64-byte steps, with AVX-512).
            var lineStart = 0
            if fixedEnd > 0, meridian_base64_copy_lines_using(base, fixedEnd, lineLength, lineStride, out, vectors.flags) {
                lineStart = fixedEnd
                written = fixedEnd / lineStride * lineLength
            }
            while lineStart < fixedEnd {
                (out + written).update(from: base + lineStart, count: lineLength)
                written += lineLength
                lineStart += lineStride
            }
            while lineStart < end {
                var lineEnd = Self.lineFeed(base, from: lineStart, end: end) ?? end
                let next = lineEnd + 1
                if lineEnd > lineStart, base[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                (out + written).update(from: base + lineStart, count: lineEnd - lineStart)
                written += lineEnd - lineStart
                lineStart = next
            }
            (out + written).update(repeating: 0x3D, count: padding)
        }
    }

    /// The check of ``init(checking:fixedLines:)``, on a pointer: where the lines lie and how long the text is
    /// without its breaks, or `nil` when a byte outside the alphabet is found.
    private static func check(
        _ base: UnsafePointer<UInt8>, count: Int, fixedLines: Bool, vectors: VectorInstructions
    ) -> (fixedEnd: Int, lineLength: Int, lineStride: Int, end: Int, padding: Int, count: Int)? {
        base64DecodeTable.withUnsafeBufferPointer { table in
            var end = count
            var padding = 0
            // Padding and line breaks at the very end; everything before must be alphabet or CR/LF.
            while end > 0, table[Int(base[end - 1])] == base64Whitespace { end -= 1 }
            while end > 0, base[end - 1] == 0x3D, padding < 3 { end -= 1; padding += 1 }
            let fixed = fixedLines ? checkFixedLines(base, end: end, vectors: vectors) : (end: 0, length: 0, stride: 0)
            var length = fixed.end / max(fixed.stride, 1) * fixed.length
            var lineStart = fixed.end
            while lineStart < end {
                var lineEnd = lineFeed(base, from: lineStart, end: end) ?? end
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
                guard bits < 64 else { return nil }
                length += lineEnd - lineStart
                lineStart = next
            }
            return (fixed.end, fixed.length, fixed.stride, end, padding, length + padding)
        }
    }

    /// The fast path of the check: while each line has the first line's length and its break, the line is checked
    /// against the alphabet, with no search for its end (in C, a line in one or two 64-byte steps, with AVX-512).
    /// Returns where such lines stop (the general loop goes on from there), their length and their length with the
    /// break.
    private static func checkFixedLines(_ base: UnsafePointer<UInt8>, end: Int, vectors: VectorInstructions) -> (end: Int, length: Int, stride: Int) {
        guard let firstBreak = lineFeed(base, from: 0, end: end) else { return (0, 0, 0) }
        let crlf = firstBreak > 0 && base[firstBreak - 1] == 0x0D
        let length = crlf ? firstBreak - 1 : firstBreak
        let stride = firstBreak + 1
        guard length >= 8, length % 4 == 0 else { return (0, 0, 0) }
        let reached = meridian_base64_fixed_lines_using(base, end, length, stride, crlf, vectors.flags)
        if reached >= 0 { return (reached, length, stride) }
        var lineStart = 0
        while lineStart + stride <= end, base[lineStart + stride - 1] == 0x0A, !crlf || base[lineStart + length] == 0x0D {
            // A line that is not all alphabet (a CR before an LF break, a stray byte) is the general loop's to judge.
            guard isAlphabet(base + lineStart, count: length) else { break }
            lineStart += stride
        }
        return (lineStart, length, stride)
    }

    /// The offset of the first LF in `base[from..<end]` (memchr), if any.
    @inline(__always) private static func lineFeed(_ base: UnsafePointer<UInt8>, from start: Int, end: Int) -> Int? {
        memchr(base + start, 0x0A, end - start).map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base }
    }

    /// Whether all `count` bytes are base64 digits (`A-Z a-z 0-9 + /`). Arithmetic on each byte with no table and no
    /// early exit, so the compiler turns the loop into vector instructions.
    @inline(__always) private static func isAlphabet(_ bytes: UnsafePointer<UInt8>, count: Int) -> Bool {
        var invalid: UInt8 = 0
        for index in 0..<count {
            let byte = bytes[index]
            let upper: UInt8 = byte &- 0x41 < 26 ? 1 : 0
            let lower: UInt8 = byte &- 0x61 < 26 ? 1 : 0
            let digit: UInt8 = byte &- 0x30 < 10 ? 1 : 0
            let symbol: UInt8 = byte == 0x2B || byte == 0x2F ? 1 : 0
            invalid |= (upper | lower | digit | symbol) ^ 1
        }
        return invalid == 0
    }
}

import CMeridianBytes

/// Writes JSON straight into bytes. The payload is written on every message, so it avoids JSONEncoder's
/// reflection: keys are written in a fixed order and strings are escaped in one pass (RFC 8259 section 7).
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = [false]
    private var afterKey = false
    /// Two-space indentation and a space after each colon, for people.
    let pretty: Bool

    init(capacity: Int = 1024, pretty: Bool = false) {
        bytes.reserveCapacity(capacity)
        self.pretty = pretty
    }

    mutating func beginObject() { open(0x7B) }
    mutating func endObject() { close(0x7D) }
    mutating func beginArray() { open(0x5B) }
    mutating func endArray() { close(0x5D) }

    /// Writes `"key":`; the value written next belongs to it.
    mutating func key(_ key: String) {
        separate()
        writeString(key)
        bytes.append(0x3A)
        if pretty { bytes.append(0x20) }
        afterKey = true
    }

    private mutating func open(_ bracket: UInt8) {
        separate()
        bytes.append(bracket)
        needsComma.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        let hadElements = needsComma.removeLast()
        if pretty && hadElements { newline() }
        bytes.append(bracket)
    }

    private mutating func newline() {
        bytes.append(0x0A)
        bytes += repeatElement(0x20, count: 2 * (needsComma.count - 1))
    }

    mutating func string(_ value: String?) {
        separate()
        guard let value else { return bytes += "null".utf8 }
        writeString(value)
    }

    /// A string given as UTF-8 bytes that are known to be valid (``MessageContent/plainUTF8``).
    mutating func string(utf8 value: [UInt8]?) {
        separate()
        guard let value else { return bytes += "null".utf8 }
        value.withUnsafeBufferPointer { writeString($0) }
    }

    mutating func number(_ value: Int?) {
        separate()
        guard let value else { return bytes += "null".utf8 }
        bytes += String(value).utf8
    }

    /// Writes an already-encoded JSON value as it is; the caller vouches that it is valid JSON.
    mutating func rawJSON(_ value: [UInt8]) {
        separate()
        bytes += value
    }

    mutating func bool(_ value: Bool) {
        separate()
        bytes += (value ? "true" : "false").utf8
    }

    // MARK: Members: a key and its value

    mutating func field(_ key: String, _ value: String?) {
        self.key(key)
        string(value)
    }

    mutating func field(_ key: String, utf8 value: [UInt8]?) {
        self.key(key)
        string(utf8: value)
    }

    mutating func field(_ key: String, _ value: Int?) {
        self.key(key)
        number(value)
    }

    /// A finite number with at most three decimals (scores); a non-finite one is written as null.
    mutating func field(_ key: String, _ value: Double) {
        self.key(key)
        rawJSON(Array((Self.text(of: value) ?? "null").utf8))
    }

    /// A number rounded to three decimals, without a fraction when it has none; nil when it is not finite.
    static func text(of value: Double) -> String? {
        guard value.isFinite else { return nil }
        let rounded = (value * 1000).rounded() / 1000
        return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int(rounded)) : String(rounded)
    }

    mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        bool(value)
    }

    mutating func field(_ key: String, strings values: [String]) {
        self.key(key)
        beginArray()
        for value in values { string(value) }
        endArray()
    }

    /// `bytes` as a base64 string (RFC 4648 section 4, with padding).
    mutating func base64String(_ value: [UInt8]) {
        separate()
        bytes.append(0x22)
        Base64Encoder.append(value, to: &bytes)
        bytes.append(0x22)
    }

    /// An attachment's content as a base64 string: encoded here, or the message's own lines without their breaks,
    /// copied straight into the payload, when they were clean base64.
    mutating func base64String(_ content: MessageContent.Attachment.Content) {
        switch content {
        case .bytes(let bytes): base64String(bytes)
        case .base64(let lines):
            separate()
            bytes.append(0x22)
            Self.append(count: lines.count, to: &bytes) { lines.copy(into: $0) }
            bytes.append(0x22)
        }
    }

    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        if needsComma[needsComma.count - 1] { bytes.append(0x2C) }
        needsComma[needsComma.count - 1] = true
        if pretty && needsComma.count > 1 { newline() }
    }

    private mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { writeString($0) }
    }

    private mutating func writeString(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(0x22)
        Self.appendEscaped(utf8, to: &bytes)
        bytes.append(0x22)
    }

    /// Appends `utf8` escaped for the inside of a JSON string. With AVX-512, in C (`meridian_json_escape_using`): its
    /// exact length first, then the bytes in place, 64 a step up to each byte to escape. Otherwise a word at a time.
    static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8], vectors: VectorInstructions = .all) {
        guard let base = utf8.baseAddress, !utf8.isEmpty else { return }
        let length = meridian_json_escaped_length_using(base, utf8.count, vectors.flags)
        guard length >= 0 else { return appendEscapedByWords(utf8, to: &bytes) }
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: length))
        bytes.withUnsafeMutableBufferPointer { meridian_json_escape_using(base, utf8.count, $0.baseAddress! + start, vectors.flags) }
    }

    /// Appends `count` bytes that `write` writes in place, into the array's new storage: `Array.append(contentsOf:)`
    /// reserves a sequence's `underestimatedCount` and hands it that storage through `_copyContents(initializing:)`,
    /// which ``WrittenInPlace`` implements. For an attachment's base64, most of a payload's bytes: appending zeros
    /// first and writing over them, as the escaper does with a string's few kilobytes, is one more pass over memory,
    /// and the whole corpus ran 10 % slower so (docs/benchmarks.md).
    static func append(count: Int, to bytes: inout [UInt8], _ write: (UnsafeMutablePointer<UInt8>) -> Void) {
        guard count > 0 else { return }
        withoutActuallyEscaping(write) { write in bytes.append(contentsOf: WrittenInPlace(count: count, write: write)) }
    }

    /// Eight bytes at a time; a word with a byte to escape says which one, so the bytes before it are not looked at
    /// again (text has a line break every 70 bytes and HTML a quote every few words).
    private static func appendEscapedByWords(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        guard let base = utf8.baseAddress else { return }
        let count = utf8.count
        var runStart = 0
        var index = 0
        while index < count {
            if index + 8 <= count {
                let mask = Self.escapeMask(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self))
                guard mask != 0 else {
                    index += 8
                    continue
                }
                index += mask.trailingZeroBitCount / 8
            } else {
                let byte = base[index]
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else {
                    index += 1
                    continue
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: index - runStart))
            let byte = base[index]
            bytes.append(0x5C)
            switch byte {
            case 0x22, 0x5C: bytes.append(byte)
            case 0x0A: bytes.append(0x6E)
            case 0x0D: bytes.append(0x72)
            case 0x09: bytes.append(0x74)
            default:
                // \u00XX, lower-case hex.
                for digit in [0x75, 0x30, 0x30] as [UInt8] { bytes.append(digit) }
                for nibble in [byte >> 4, byte & 0xF] { bytes.append(nibble < 10 ? 0x30 + nibble : 0x57 + nibble) }
            }
            index += 1
            runStart = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: count - runStart))
    }

    /// The high bit of each byte of `word` that is below 0x20, a quote or a backslash; the lowest set bit is exact,
    /// those above it may not be ("bit twiddling hacks"). Bytes of 0x80 and above never count.
    @inline(__always)
    private static func escapeMask(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below20 = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote & highs
        let hasBackslash = (backslash &- ones) & ~backslash & highs
        return below20 | hasQuote | hasBackslash
    }
}

/// `count` bytes that `write` puts straight into the storage they are appended to (``JSONWriter/append(count:to:_:)``).
private struct WrittenInPlace: Sequence {
    let count: Int
    let write: (UnsafeMutablePointer<UInt8>) -> Void

    var underestimatedCount: Int { count }

    /// What is left after `_copyContents`: nothing. (A standard library that iterated instead would find `count`
    /// an overestimate and stop; `JSONWriterTests` would say so.)
    func makeIterator() -> EmptyCollection<UInt8>.Iterator { EmptyCollection<UInt8>.Iterator() }

    func _copyContents(initializing buffer: UnsafeMutableBufferPointer<UInt8>) -> (EmptyCollection<UInt8>.Iterator, Int) {
        guard let base = buffer.baseAddress, buffer.count >= count else { preconditionFailure("less room than underestimatedCount") }
        write(base)
        return (makeIterator(), count)
    }
}

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

    /// A string of bytes already safe in JSON (base64 text).
    mutating func rawString(_ value: [UInt8]) {
        separate()
        bytes.append(0x22)
        bytes += value
        bytes.append(0x22)
    }

    /// `bytes` as a base64 string (RFC 4648 section 4, with padding).
    mutating func base64String(_ value: [UInt8]) {
        separate()
        bytes.append(0x22)
        Base64Encoder.append(value, to: &bytes)
        bytes.append(0x22)
    }

    /// An attachment's content as a base64 string: encoded here, or as the message had it when that was clean base64.
    mutating func base64String(_ content: MessageContent.Attachment.Content) {
        switch content {
        case .bytes(let bytes): base64String(bytes)
        case .base64(let text): rawString(text)
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

    /// Appends `utf8` escaped for the inside of a JSON string, in C (`meridian_json_escape_using`): its exact length
    /// first, then the bytes in place, 64 a step up to each byte to escape (text has a line break every 70 bytes).
    static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8], vectors: VectorInstructions = .all) {
        guard let base = utf8.baseAddress, !utf8.isEmpty else { return }
        let start = bytes.count
        let length = meridian_json_escaped_length_using(base, utf8.count, vectors.flags)
        bytes.append(contentsOf: repeatElement(0, count: length))
        bytes.withUnsafeMutableBufferPointer { meridian_json_escape_using(base, utf8.count, $0.baseAddress! + start, vectors.flags) }
    }
}

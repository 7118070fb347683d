/// What the payload's envelope and headers are written to: JSON (``JSONWriter``) for the JSON formats, or
/// `multipart/form-data` field names in bracket notation (``FormFieldWriter``) for the form formats, so that
/// every format carries the same envelope from one piece of code.
protocol StructuredSink {
    mutating func beginObject()
    mutating func endObject()
    mutating func beginArray()
    mutating func endArray()
    /// Names the value written next.
    mutating func key(_ key: String)
    /// A member; nil is JSON's `null`, and no field at all in a form.
    mutating func field(_ key: String, _ value: String?)
    mutating func field(_ key: String, _ value: Int?)
    mutating func field(_ key: String, _ value: Double)
    mutating func field(_ key: String, _ value: Bool)
    mutating func field(_ key: String, strings values: [String])
}

extension JSONWriter: StructuredSink {}

/// Flattens what a ``StructuredSink`` is given into form fields named in the bracket notation Rails, PHP and
/// CloudMailin's form formats use: `envelope[spf][result]`, `envelope[recipients][0]`, `headers[received][1]`.
struct FormFieldWriter: StructuredSink {
    private(set) var fields: [(name: String, value: String)] = []
    /// The open objects and arrays: each one's name, and for an array the index of its next element.
    private var levels: [(name: String, next: Int?)] = []
    private var pendingKey: String?

    mutating func beginObject() { open() }
    mutating func endObject() { levels.removeLast() }
    mutating func beginArray() {
        open()
        levels[levels.count - 1].next = 0
    }
    mutating func endArray() { levels.removeLast() }
    mutating func key(_ key: String) { pendingKey = key }

    mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        fields.append((name(key), value))
    }

    mutating func field(_ key: String, _ value: Int?) { field(key, value.map(String.init)) }
    mutating func field(_ key: String, _ value: Double) { field(key, JSONWriter.text(of: value)) }
    mutating func field(_ key: String, _ value: Bool) { field(key, value ? "true" : "false") }

    mutating func field(_ key: String, strings values: [String]) {
        let base = name(key)
        for (index, value) in values.enumerated() { fields.append(("\(base)[\(index)]", value)) }
    }

    /// The name of the next member: the open levels, then `key`, or the next index inside an array.
    private mutating func name(_ key: String) -> String {
        let last = nextComponent(key)
        guard let first = levels.first?.name else { return last }
        return first + levels.dropFirst().map { "[\($0.name)]" }.joined() + "[\(last)]"
    }

    private mutating func nextComponent(_ key: String) -> String {
        guard let index = levels.last?.next else { return key }
        levels[levels.count - 1].next = index + 1
        return String(index)
    }

    private mutating func open() {
        let component = nextComponent(pendingKey ?? "")
        pendingKey = nil
        levels.append((component, nil))
    }
}

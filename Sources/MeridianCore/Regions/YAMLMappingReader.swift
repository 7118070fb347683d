import Yams

/// Reads one YAML mapping strictly: every key must be read, a missing key or a key nobody read is an error
/// that names the file and the dotted path.
struct YAMLMappingReader {
    let file: String
    let path: String
    private let mapping: Node.Mapping
    private var seen: Set<String> = []

    init(_ node: Node?, file: String, path: String = "") throws(RegionConfigError) {
        guard let node, let mapping = node.mapping else {
            throw RegionConfigError(.badValue, file: file, key: path, "expected a mapping of keys to values")
        }
        self.file = file
        self.path = path
        self.mapping = mapping
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func node(_ key: String) -> Node? {
        seen.insert(key)
        guard let value = mapping[key], value.null == nil else { return nil }
        return value
    }

    mutating func string(_ key: String) throws(RegionConfigError) -> String {
        guard let value = node(key) else {
            throw RegionConfigError(.missingKey, file: file, key: keyPath(key), "missing required key")
        }
        guard let scalar = value.scalar, !scalar.string.isEmpty else {
            throw RegionConfigError(.badValue, file: file, key: keyPath(key), "expected a text value")
        }
        return scalar.string
    }

    mutating func optionalString(_ key: String) throws(RegionConfigError) -> String? {
        guard mapping[key] != nil else {
            seen.insert(key)
            return nil
        }
        return try string(key)
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(RegionConfigError) -> Int {
        let text = try string(key)
        guard let value = Int(text), range.contains(value) else {
            throw RegionConfigError(
                .badValue, file: file, key: keyPath(key),
                "\"\(text)\" is not a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    mutating func duration(_ key: String) throws(RegionConfigError) -> PolicyDuration {
        let text = try string(key)
        guard let duration = PolicyDuration(parsing: text) else {
            throw RegionConfigError(
                .badDuration, file: file, key: keyPath(key),
                "\"\(text)\" is not a duration; write a positive number and a unit (s, m, h, d, w or y), e.g. 60d")
        }
        return duration
    }

    mutating func mapping(_ key: String) throws(RegionConfigError) -> YAMLMappingReader {
        guard let value = node(key) else {
            throw RegionConfigError(.missingKey, file: file, key: keyPath(key), "missing required section")
        }
        return try YAMLMappingReader(value, file: file, path: keyPath(key))
    }

    mutating func sequence(_ key: String) throws(RegionConfigError) -> [Node] {
        guard let value = node(key) else {
            throw RegionConfigError(.missingKey, file: file, key: keyPath(key), "missing required list")
        }
        guard let items = value.sequence else {
            throw RegionConfigError(.badValue, file: file, key: keyPath(key), "expected a list")
        }
        return Array(items)
    }

    /// Call last: any key in the file that no reader asked for is reported, so a typo never goes unnoticed.
    func rejectUnknownKeys() throws(RegionConfigError) {
        for key in mapping.keys {
            let name = key.scalar?.string ?? "\(key)"
            if !seen.contains(name) {
                throw RegionConfigError(.unknownKey, file: file, key: keyPath(name), "unknown key")
            }
        }
    }
}

/// A problem in one of the Regions/*.yaml files, naming the file and the key so an operator can fix it.
public struct RegionConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unreadable
        case notYAML
        case missingKey
        case unknownKey
        case badValue
        case badDuration
        case inconsistent
    }

    public var code: Code
    /// The file, as the operator named it (for example `Regions/eu.yaml`).
    public var file: String
    /// The dotted key path inside the file, for example `retention.message_metadata`; empty for the whole file.
    public var key: String
    public var problem: String

    public init(_ code: Code, file: String, key: String, _ problem: String) {
        self.code = code
        self.file = file
        self.key = key
        self.problem = problem
    }

    public var description: String {
        key.isEmpty ? "\(file): \(problem)" : "\(file): \(key): \(problem)"
    }
}

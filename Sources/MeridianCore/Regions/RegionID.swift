/// A region id such as `eu`: lower-case letters, 2 to 8 of them, as named by a file in Regions/.
public struct RegionID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ rawValue: String) {
        guard (2...8).contains(rawValue.count), rawValue.allSatisfy({ $0.isASCII && $0.isLowercase }) else {
            return nil
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }
    public static func < (lhs: RegionID, rhs: RegionID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = RegionID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a region id"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public struct SmarthostError: Error, CustomStringConvertible {
    public var description: String
}

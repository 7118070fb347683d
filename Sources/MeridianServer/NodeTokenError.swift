import Foundation
import MeridianCore

/// Why there is no node token; the text names the file.
public struct NodeTokenError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

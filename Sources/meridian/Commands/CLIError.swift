import Foundation
import MeridianCore
import OpenAPIAsyncHTTPClient

struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

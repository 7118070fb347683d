import Foundation
import MeridianCore
import OpenAPIAsyncHTTPClient

struct APIProblem: Error, CustomStringConvertible {
    var status: Int
    var detail: String
    var field: String?
    var description: String { "the coordinator answered \(status): \(detail)" }
}

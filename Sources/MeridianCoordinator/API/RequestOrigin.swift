import Hummingbird
import NIOCore

/// Where the current request came from, handed from the Hummingbird layer to the OpenAPI handlers.
public struct RequestOrigin: Sendable {
    /// The client's IP address, or `-` when unknown (an in-process test).
    public var ip: String
    public var requestID: String

    @TaskLocal public static var current = RequestOrigin(ip: "-", requestID: "-")
}

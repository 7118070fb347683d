import Hummingbird
import NIOCore

/// The coordinator's request context: Hummingbird's, plus the client address the audit log records.
public struct CoordinatorRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// Admin API bodies are small JSON documents.
    public var maxUploadSize: Int { 1 << 20 }
}

/// Where the current request came from, handed from the Hummingbird layer to the OpenAPI handlers.
public struct RequestOrigin: Sendable {
    /// The client's IP address, or `-` when unknown (an in-process test).
    public var ip: String
    public var requestID: String

    @TaskLocal public static var current = RequestOrigin(ip: "-", requestID: "-")
}

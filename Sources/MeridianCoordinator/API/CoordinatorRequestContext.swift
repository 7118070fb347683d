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

import Hummingbird
import NIOCore
import X509

/// The request context of a node-link listener: Hummingbird's, the client's address, and the certificate the
/// client presented in the TLS handshake.
public struct LinkRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    private let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    /// The client's certificate, verified in the handshake against the authority the listener trusts; nil when
    /// it sent none (or the connection is not TLS, as in router tests).
    public func peerCertificate() async -> Certificate? {
        try? await channel.peerCertificate()
    }

    /// The largest body a node sends: a report or a certificate request.
    public var maxUploadSize: Int { 1 << 20 }
}

/// The negotiated TLS parameters of a session, as reported by the transport.
public struct SMTPTLSInfo: Sendable, Hashable, Codable {
    /// For example `TLSv1.3`.
    public var version: String
    /// For example `TLS_AES_256_GCM_SHA384`; nil when the TLS library does not report it (swift-nio-ssl
    /// reports the version only).
    public var cipher: String?

    public init(version: String, cipher: String?) {
        self.version = version
        self.cipher = cipher
    }
}

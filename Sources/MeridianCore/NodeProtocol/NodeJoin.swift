import Foundation

/// A node's first call (`POST /node/v1/join`), with its one-time join token as the bearer token: a certificate
/// signing request for the key it made, which the coordinator's node CA signs.
public struct NodeJoinRequest: Sendable, Codable, Equatable {
    /// The request, PEM (`CERTIFICATE REQUEST`), for a P-256 key; its subject is not read.
    public var csr: String

    public init(csr: String) {
        self.csr = csr
    }
}

/// What a node gets when it joins: who it is, its certificate, the two certificate authorities it trusts for
/// the node protocol, the key its config is signed with, and where it reaches the coordinator.
public struct NodeJoinAnswer: Sendable, Codable, Equatable {
    public var region: String
    public var node: String
    public var controlURL: String
    /// The node's certificate, PEM, issued by the node CA.
    public var certificate: String
    /// The node CA's certificate, PEM: the issuer of every node's certificate.
    public var nodeCA: String
    /// The coordinator CA's certificate, PEM: the node accepts only certificates it issued as the coordinator's.
    /// Its SHA-256 is the one the join token pins.
    public var coordinatorCA: String
    /// The coordinator's bundle-signing public key (Ed25519, raw, base64): bundles and directives are signed with it.
    public var bundleKey: String
    /// The private key of the node's region (X25519, raw, base64), which opens the webhook secrets its bundles
    /// carry sealed (``BundleSealing``).
    public var regionKey: String?

    public init(
        region: String, node: String, controlURL: String, certificate: String, nodeCA: String, coordinatorCA: String, bundleKey: String,
        regionKey: String? = nil
    ) {
        self.region = region
        self.node = node
        self.controlURL = controlURL
        self.certificate = certificate
        self.nodeCA = nodeCA
        self.coordinatorCA = coordinatorCA
        self.bundleKey = bundleKey
        self.regionKey = regionKey
    }

    enum CodingKeys: String, CodingKey {
        case region, node, certificate
        case controlURL = "control_url", nodeCA = "node_ca", coordinatorCA = "coordinator_ca", bundleKey = "bundle_key"
        case regionKey = "region_key"
    }
}

/// A join token as the admin hands it to a node: `mrj_` and 256 random bits (base64url), a dot, and the SHA-256
/// of the coordinator CA's certificate (hex), so that the node can tell the real coordinator before it trusts
/// what it answers. The coordinator keeps only the hash of the secret part.
public struct JoinToken: Sendable, Equatable, CustomStringConvertible {
    public var secret: String
    public var coordinatorCAFingerprint: String

    public init(secret: String, coordinatorCAFingerprint: String) {
        self.secret = secret
        self.coordinatorCAFingerprint = coordinatorCAFingerprint
    }

    /// A new token pinning `fingerprint`.
    public static func generate(pinning fingerprint: String) -> JoinToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return JoinToken(secret: "mrj_" + Base64URL.encode(bytes), coordinatorCAFingerprint: fingerprint)
    }

    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".")
        guard parts.count == 2, parts[0].hasPrefix("mrj_"), parts[0].count == 47, parts[1].count == 64,
            parts[1].allSatisfy({ $0.isHexDigit })
        else { return nil }
        self.init(secret: String(parts[0]), coordinatorCAFingerprint: parts[1].lowercased())
    }

    public var description: String { "\(secret).\(coordinatorCAFingerprint)" }

    /// What the coordinator keeps: the SHA-256 of the secret part.
    public var hash: String { BearerToken.hash(of: secret) }
}

/// The coordinator's answer to a renewal (`POST /node/v1/renew`): the node's new certificate, PEM.
public struct NodeRenewal: Sendable, Codable, Equatable {
    public var certificate: String
    /// The region's key again (``NodeJoinAnswer/regionKey``), so a node that joined without one gets it.
    public var regionKey: String?

    public init(certificate: String, regionKey: String? = nil) {
        self.certificate = certificate
        self.regionKey = regionKey
    }

    enum CodingKeys: String, CodingKey {
        case certificate
        case regionKey = "region_key"
    }
}

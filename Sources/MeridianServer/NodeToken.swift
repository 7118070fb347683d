import Foundation
import MeridianCore

/// The secret the coordinator and the nodes present to each other on the node protocol.
public struct NodeToken: Sendable {
    public var secret: String
    /// Where it came from: `MERIDIAN_NODE_TOKEN` or the file, for the start-up banner.
    public var source: String
    public var hash: String { BearerToken.hash(of: secret) }

    /// From `MERIDIAN_NODE_TOKEN`, else from `file`, which is created (0600) with a new token when missing and
    /// `create` is set.
    public static func load(
        file: String, create: Bool, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> NodeToken {
        if let secret = environment["MERIDIAN_NODE_TOKEN"], !secret.isEmpty {
            return NodeToken(secret: secret, source: "MERIDIAN_NODE_TOKEN")
        }
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !secret.isEmpty else { throw NodeTokenError(.empty, "the node token file \(file) is empty") }
            return NodeToken(secret: secret, source: file)
        }
        guard create else { throw NodeTokenError(.missing, "no node token: set MERIDIAN_NODE_TOKEN or create \(file)") }
        let secret = BearerToken.generate().secret
        try PrivateFile.write(Data((secret + "\n").utf8), to: file)
        return NodeToken(secret: secret, source: file)
    }
}

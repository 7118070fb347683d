import Crypto
import Foundation
import MeridianCore

/// Compiles the coordinator's state into one node bundle per region (DESIGN.md, "Config push").
///
/// A region's bundle holds every active customer that may be processed there (pinned to it, or unpinned) with
/// its domains, webhook (secret opened from the secret box) and redactions; for customers pinned elsewhere
/// only their domains and that region's MX host; and the region's policy. Output is sorted, so the same
/// state always gives the same bytes. Distribution (push, ACK/NACK) is not built yet.
public struct ConfigCompiler: Sendable {
    public let catalog: RegionCatalog
    public let secrets: SecretBox

    public init(catalog: RegionCatalog, secrets: SecretBox) {
        self.catalog = catalog
        self.secrets = secrets
    }

    public struct CompileError: Error, CustomStringConvertible {
        public let description: String
    }

    public func compile(_ customers: [CustomerRecord], version: Int) throws -> [NodeBundle] {
        let active = customers.filter { $0.status == .active }.sorted { $0.id < $1.id }
        var entries: [String: NodeBundle.Customer] = [:]
        for customer in active {
            let secret: String
            do {
                secret = try secrets.open(customer.webhookSecretSealed)
            } catch {
                throw CompileError(description: "customer \(customer.id): its webhook secret does not open with the master key")
            }
            entries[customer.id] = NodeBundle.Customer(
                id: customer.id, region: customer.region, domains: customer.domains.map(\.domain).sorted(),
                webhook: .init(url: customer.webhookURL, mode: customer.webhookMode, secret: secret),
                metadataRedactions: customer.metadataRedactions.sorted { $0.rawValue < $1.rawValue })
        }
        return try catalog.regions.map { region in
            var included: [NodeBundle.Customer] = []
            var elsewhere: [NodeBundle.PinnedElsewhere] = []
            for customer in active {
                if let pin = customer.region, pin != region.id {
                    guard let home = catalog.region(pin) else {
                        throw CompileError(description: "customer \(customer.id) is pinned to \(pin), which is not in Regions/")
                    }
                    elsewhere += customer.domains.map { .init(domain: $0.domain, region: pin, mxHost: home.mxHost) }
                } else if let entry = entries[customer.id] {
                    included.append(entry)
                }
            }
            let bundle = NodeBundle(
                version: version, region: region.id, customers: included,
                elsewhere: elsewhere.sorted { $0.domain < $1.domain }, policy: NodeBundle.Policy(region))
            do {
                try bundle.validate(expectedRegion: region.id)
            } catch {
                throw CompileError(description: "the \(region.id) bundle would not validate: \(error)")
            }
            return bundle
        }
    }
}

/// The coordinator's Ed25519 key for signing bundles, kept sealed under the master key in
/// `DATA_DIR/bundle-signing.key`; its public half, which nodes pin, in `bundle-signing.pub` (base64, raw).
public enum BundleSigningKey {
    public static func loadOrCreate(dataDirectory: String, secrets: SecretBox) throws -> Curve25519.Signing.PrivateKey {
        let path = (dataDirectory as NSString).appendingPathComponent("bundle-signing.key")
        if let sealed = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let raw = try? secrets.open(sealed.trimmingCharacters(in: .whitespacesAndNewlines)),
                let bytes = Data(base64Encoded: raw), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
            else {
                throw CoordinatorStartError("\(path) does not open with the master key; restore the master key that sealed it")
            }
            return key
        }
        let key = Curve25519.Signing.PrivateKey()
        try PrivateFile.write(Data((try secrets.seal(key.rawRepresentation.base64EncodedString()) + "\n").utf8), to: path)
        try Data((key.publicKey.rawRepresentation.base64EncodedString() + "\n").utf8)
            .write(to: URL(fileURLWithPath: (dataDirectory as NSString).appendingPathComponent("bundle-signing.pub")))
        return key
    }
}

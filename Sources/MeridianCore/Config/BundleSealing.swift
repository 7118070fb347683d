import Crypto
import Foundation

/// Webhook secrets sealed to a region, so that a bundle at rest (the last-known-good file, a backup) or in transit
/// shows none in the clear and only that region's nodes can read them.
///
/// Each region has an X25519 key pair: the coordinator derives it from its master key, and hands the private half
/// to the region's nodes over the node link when they join and when they renew. Each bundle has a fresh 256-bit
/// content key, sealed to the region's public key with HPKE (RFC 9180, base mode,
/// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305; the info names the region): that is the bundle's
/// `sealed_key`, the encapsulated key followed by the ciphertext, base64. Each secret is sealed under the content
/// key with ChaCha20-Poly1305, a random nonce and the customer's id as associated data (`secret_sealed`: nonce,
/// ciphertext and tag, base64). A secret being rotated out is sealed the same way with `<customer id> previous`
/// as associated data (`previous_secret_sealed`), and HTTP Basic credentials with `<customer id> credentials`
/// (`credentials_sealed`), so none can pass for another. One HPKE operation per bundle
/// keeps a bundle of 100,000 customers quick to seal.
public enum BundleSealing {
    public static let suite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly

    static func info(_ region: RegionID) -> Data { Data("meridian bundle key v1 \(region.rawValue)".utf8) }

    /// The associated data of a customer's previous secret.
    static func previousContext(_ customer: String) -> String { customer + " previous" }

    /// The associated data of a customer's HTTP Basic credentials.
    static func credentialsContext(_ customer: String) -> String { customer + " credentials" }

    /// One customer's secrets, sealed.
    public struct SealedSecrets: Sendable, Hashable {
        public var current: String
        public var previous: String?
        public var credentials: String?
    }

    /// Seals the secrets of one bundle.
    public struct Sealer: Sendable {
        let contentKey: SymmetricKey
        /// The content key sealed to the region: the bundle's `sealed_key`.
        public let sealedKey: String

        public init(regionKey: Curve25519.KeyAgreement.PublicKey, region: RegionID) throws {
            contentKey = SymmetricKey(size: .bits256)
            var sender = try HPKE.Sender(recipientKey: regionKey, ciphersuite: BundleSealing.suite, info: BundleSealing.info(region))
            let ciphertext = try contentKey.withUnsafeBytes { try sender.seal(Data($0)) }
            sealedKey = (sender.encapsulatedKey + ciphertext).base64EncodedString()
        }

        public func seal(_ secret: String, customer: String) throws -> String {
            try ChaChaPoly.seal(Data(secret.utf8), using: contentKey, authenticating: Data(customer.utf8)).combined.base64EncodedString()
        }

        /// A customer's current secret and, while it overlaps, its previous one.
        public func seal(_ customer: NodeBundle.Customer) throws -> SealedSecrets {
            SealedSecrets(
                current: try seal(customer.webhook.secret, customer: customer.id),
                previous: try customer.webhook.previousSecret.map { try seal($0, customer: BundleSealing.previousContext(customer.id)) },
                credentials: try customer.webhook.credentials.map { try seal($0, customer: BundleSealing.credentialsContext(customer.id)) })
        }

        /// The customer with its secrets sealed in place of those in the clear.
        public func sealing(_ customer: NodeBundle.Customer) throws -> NodeBundle.Customer {
            customer.replacingSecrets(with: try seal(customer))
        }
    }

    /// Opens the secrets of one bundle with the region's private key.
    public struct Opener: Sendable {
        let contentKey: SymmetricKey

        public init(regionKey: Curve25519.KeyAgreement.PrivateKey, region: RegionID, sealedKey: String) throws(CoreError) {
            // X25519's encapsulated key is its 32-byte public key.
            guard let bytes = Data(base64Encoded: sealedKey), bytes.count > 32 else {
                throw CoreError(.bundleMalformed, "sealed_key is not base64 of an encapsulated key and a ciphertext")
            }
            do {
                var recipient = try HPKE.Recipient(
                    privateKey: regionKey, ciphersuite: BundleSealing.suite, info: BundleSealing.info(region), encapsulatedKey: bytes.prefix(32))
                contentKey = SymmetricKey(data: try recipient.open(bytes.dropFirst(32)))
            } catch {
                throw CoreError(.bundleSealedToAnotherKey, "the bundle's secrets are sealed to another key than this node's region key")
            }
        }

        public func open(_ sealed: String, customer: String) throws(CoreError) -> String {
            guard let bytes = Data(base64Encoded: sealed), let box = try? ChaChaPoly.SealedBox(combined: bytes),
                let plain = try? ChaChaPoly.open(box, using: contentKey, authenticating: Data(customer.utf8)), let secret = String(data: plain, encoding: .utf8)
            else {
                throw CoreError(.bundleSealedToAnotherKey, "customer \(customer): the webhook secret does not open with the bundle's key")
            }
            return secret
        }

        /// The customer with its sealed secrets opened and its fields checked; a secret in the clear in a sealed
        /// bundle is refused.
        public func opening(_ sealed: NodeBundle.Customer) throws(CoreError) -> NodeBundle.Customer {
            var customer = sealed
            guard let secret = sealed.webhook.secretSealed else {
                throw CoreError(.bundleMalformed, "customer \(sealed.id): a sealed bundle holds a secret in the clear")
            }
            customer.webhook.secret = try open(secret, customer: sealed.id)
            customer.webhook.secretSealed = nil
            if let previous = sealed.webhook.previousSecretSealed {
                customer.webhook.previousSecret = try open(previous, customer: BundleSealing.previousContext(sealed.id))
                customer.webhook.previousSecretSealed = nil
            } else if sealed.webhook.previousSecret != nil {
                throw CoreError(.bundleMalformed, "customer \(sealed.id): a sealed bundle holds a previous secret in the clear")
            }
            if let credentials = sealed.webhook.credentialsSealed {
                customer.webhook.credentials = try open(credentials, customer: BundleSealing.credentialsContext(sealed.id))
                customer.webhook.credentialsSealed = nil
            } else if sealed.webhook.credentials != nil {
                throw CoreError(.bundleMalformed, "customer \(sealed.id): a sealed bundle holds webhook credentials in the clear")
            }
            try customer.validate()
            return customer
        }
    }
}

extension NodeBundle {
    /// The bundle with every webhook secret sealed by `sealer`, and its sealed key.
    public func sealingSecrets(with sealer: BundleSealing.Sealer) throws -> NodeBundle {
        replacingSecrets(with: try customers.map { try sealer.seal($0) }, sealedKey: sealer.sealedKey)
    }

    /// The bundle with `sealed` (one pair per customer, in order, sealed under `sealedKey`'s content key) in place
    /// of the secrets in the clear; for a caller that seals the customers in chunks on several cores.
    public func replacingSecrets(with sealed: [BundleSealing.SealedSecrets], sealedKey: String) -> NodeBundle {
        precondition(sealed.count == customers.count, "one sealed secret per customer")
        var bundle = self
        for (index, secrets) in zip(bundle.customers.indices, sealed) {
            bundle.customers[index] = bundle.customers[index].replacingSecrets(with: secrets)
        }
        bundle.sealedKey = sealedKey
        return bundle
    }

    /// The bundle with its sealed secrets opened with the region's private key and checked; a bundle with its
    /// secrets in the clear comes back as it is. A sealed bundle and no key, another region's key, or a secret
    /// that does not open is a ``CoreError``.
    public func openingSecrets(with regionKey: Curve25519.KeyAgreement.PrivateKey?) throws(CoreError) -> NodeBundle {
        guard let sealedKey else {
            if let sealed = customers.first(where: { $0.webhook.secretSealed != nil }) {
                throw CoreError(.bundleMalformed, "customer \(sealed.id) has a sealed secret, but the bundle has no sealed_key")
            }
            return self
        }
        guard let regionKey else {
            throw CoreError(
                .bundleSealedToAnotherKey,
                "the bundle's secrets are sealed to the region, and this node has no region key (identity/region.key): it gets one when it joins or renews")
        }
        let opener = try BundleSealing.Opener(regionKey: regionKey, region: region, sealedKey: sealedKey)
        var bundle = self
        for index in bundle.customers.indices { bundle.customers[index] = try opener.opening(bundle.customers[index]) }
        bundle.sealedKey = nil
        return bundle
    }
}

extension NodeBundle.Customer {
    /// The customer with `secrets` in place of its secrets in the clear.
    func replacingSecrets(with secrets: BundleSealing.SealedSecrets) -> NodeBundle.Customer {
        var customer = self
        customer.webhook.secretSealed = secrets.current
        customer.webhook.secret = ""
        customer.webhook.previousSecretSealed = secrets.previous
        customer.webhook.previousSecret = nil
        customer.webhook.credentialsSealed = secrets.credentials
        customer.webhook.credentials = nil
        return customer
    }
}

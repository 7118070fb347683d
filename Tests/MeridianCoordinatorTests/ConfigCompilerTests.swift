import Crypto
import Foundation
import MeridianCore
import Testing

@testable import MeridianCoordinator

@Suite("Config compiler and bundle signatures")
struct ConfigCompilerTests {
    static let secrets = SecretBox(keyBytes: Data(repeating: 9, count: 32))!
    static let secret = "whsec_" + Data(repeating: 3, count: 32).base64EncodedString()

    /// A customer with one domain, proved unless said otherwise.
    static func customer(
        _ id: String, _ domain: String, region: String?, status: CustomerRecord.Status = .active, proof: CustomerDomain.State = .verified
    ) throws -> CustomerRecord {
        CustomerRecord(
            id: id, name: id, contactEmail: "ops@\(domain)", region: region.flatMap(RegionID.init),
            domains: [CustomerDomain(domain: domain, verificationToken: "t", state: proof)], webhookURL: "https://hooks.example/\(id)",
            webhookMode: .queued, webhookSecretSealed: try secrets.seal(secret), metadataRedactions: [.subject, .helo],
            status: status, createdAt: Date(), updatedAt: Date(), closedAt: nil, purgeAfter: nil)
    }

    @Test("each region gets its pinned and the unpinned customers; others appear only as domains elsewhere")
    func placement() throws {
        let compiler = ConfigCompiler(catalog: TestStores.regions, secrets: Self.secrets)
        let bundles = try compiler.compile(
            [
                try Self.customer("cus_eu", "eu-only.example", region: "eu"),
                try Self.customer("cus_any", "anywhere.example", region: nil),
                try Self.customer("cus_us", "us-only.example", region: "us"),
                try Self.customer("cus_closed", "closed.example", region: nil, status: .closed),
            ], version: 12)
        let byRegion = Dictionary(uniqueKeysWithValues: bundles.map { ($0.region.rawValue, $0) })
        #expect(Set(byRegion.keys) == ["ap", "eu", "us"])
        let eu = try #require(byRegion["eu"])
        #expect(eu.version == 12)
        #expect(eu.customers.map(\.id) == ["cus_any", "cus_eu"])
        #expect(eu.customers[0].webhook.secret == Self.secret)
        #expect(eu.customers[0].metadataRedactions == [.helo, .subject])
        #expect(eu.elsewhere == [.init(domain: "us-only.example", region: RegionID("us")!, mxHost: "us.mx.meridian.example")])
        #expect(eu.policy?.queueLifetimeSeconds == Int64(5 * 86_400))
        #expect(eu.policy?.messageMetadataSeconds == Int64(60 * 86_400))
        let ap = try #require(byRegion["ap"])
        #expect(ap.customers.map(\.id) == ["cus_any"])
        #expect(Set(ap.elsewhere.map(\.domain)) == ["eu-only.example", "us-only.example"])
        // A node answers from it exactly as DESIGN says.
        let directory = RecipientDirectory(ap)
        #expect(directory.decide(SMTPMailbox("x@eu-only.example")!, accepted: []) == .pinnedElsewhere(region: "eu", mxHost: "eu.mx.meridian.example"))
        #expect(directory.decide(SMTPMailbox("x@closed.example")!, accepted: []) == .unknown)
    }

    @Test("exploit: a domain added without proof, or whose proof lapsed, is in no bundle, as a customer or as elsewhere")
    func unprovedDomainsNotRouted() throws {
        // Before proofs gated routing, adding bigbank.example to an account made every node accept its mail at once.
        let compiler = ConfigCompiler(catalog: TestStores.regions, secrets: Self.secrets)
        let bundles = try compiler.compile(
            [
                try Self.customer("cus_squat", "bigbank.example", region: nil, proof: .pending),
                try Self.customer("cus_lapsed", "lapsed.example", region: "us", proof: .suspended),
                try Self.customer("cus_ok", "ok.example", region: nil),
            ], version: 2)
        for bundle in bundles {
            let directory = RecipientDirectory(bundle)
            #expect(directory.decide(SMTPMailbox("ceo@bigbank.example")!, accepted: []) == .unknown)
            #expect(directory.decide(SMTPMailbox("x@lapsed.example")!, accepted: []) == .unknown)
            #expect(directory.decide(SMTPMailbox("x@ok.example")!, accepted: []) != .unknown)
            #expect(bundle.customers.first { $0.id == "cus_squat" }?.domains == [])
        }
    }

    @Test("the same state gives the same bytes; a signed bundle verifies, a changed one does not")
    func signing() throws {
        let compiler = ConfigCompiler(catalog: TestStores.regions, secrets: Self.secrets)
        let customers = [try Self.customer("cus_b", "b.example", region: nil), try Self.customer("cus_a", "a.example", region: "eu")]
        let first = try compiler.compile(customers, version: 3)
        let second = try compiler.compile(customers.reversed(), version: 3)
        #expect(first.map { $0.canonicalJSON() } == second.map { $0.canonicalJSON() })

        let key = Curve25519.Signing.PrivateKey()
        let eu = try #require(first.first { $0.region.rawValue == "eu" })
        let signed = try SignedBundle.sign(eu, with: key)
        #expect(try signed.verify(with: key.publicKey, region: RegionID("eu")!) == eu)

        var tampered = signed
        var bytes = try #require(Data(base64Encoded: signed.payload))
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "hooks.example", with: "evil.example")
        bytes = Data(text.utf8)
        tampered.payload = bytes.base64EncodedString()
        #expect(throws: CoreError(.signatureInvalid)) { try tampered.verify(with: key.publicKey, region: RegionID("eu")!) }
        let stranger = Curve25519.Signing.PrivateKey()
        #expect(throws: CoreError(.untrustedKey), "a bundle signed by another key must not verify") {
            try signed.verify(with: stranger.publicKey, region: RegionID("eu")!)
        }
        #expect(throws: CoreError(.bundleForAnotherRegion), "the eu bundle must not be accepted by a us node") {
            try signed.verify(with: key.publicKey, region: RegionID("us")!)
        }
    }

    @Test("the signing key is sealed at rest and comes back the same; a different master key cannot open it")
    func signingKeyAtRest() throws {
        let directory = NSTemporaryDirectory() + "signing-" + UUID().uuidString
        let key = try SigningKeyFile.loadOrCreate(dataDirectory: directory, secrets: Self.secrets)
        let again = try SigningKeyFile.loadOrCreate(dataDirectory: directory, secrets: Self.secrets)
        #expect(key.rawRepresentation == again.rawRepresentation)
        let stored = try String(contentsOfFile: directory + "/bundle-signing.key", encoding: .utf8)
        #expect(stored.hasPrefix("v1:"))
        #expect(!stored.contains(key.rawRepresentation.base64EncodedString()))
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/bundle-signing.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let published = try String(contentsOfFile: directory + "/bundle-signing.pub", encoding: .utf8)
        #expect(published.trimmingCharacters(in: .whitespacesAndNewlines) == key.publicKey.rawRepresentation.base64EncodedString())
        #expect(throws: CoordinatorError(.signingKeyInvalid)) {
            try SigningKeyFile.loadOrCreate(dataDirectory: directory, secrets: SecretBox(keyBytes: Data(repeating: 1, count: 32))!)
        }
    }
}

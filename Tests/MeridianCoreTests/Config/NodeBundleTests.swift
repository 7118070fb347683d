import Crypto
import Foundation
import MeridianCore
import Testing

@Suite("Node bundle and recipient directory")
struct NodeBundleTests {
    static let secret = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()

    static func customer(_ id: String, _ domain: String, mode: DeliveryMode = .queued, addresses: [String] = []) -> NodeBundle.Customer {
        NodeBundle.Customer(
            id: id, region: nil, domains: [domain], addresses: addresses,
            webhook: .init(url: "https://hooks.example/\(id)", mode: mode, secret: secret))
    }

    static let eu = RegionID("eu")!

    @Test("bad bundles are refused with the customer and field named")
    func validation() throws {
        func error(_ json: String) -> String? {
            do {
                _ = try NodeBundle.decode(Data(json.utf8), expectedRegion: Self.eu)
                return nil
            } catch {
                return error.description
            }
        }
        let hook = #"{"url":"https://h.example/x","mode":"queued","secret":"\#(Self.secret)"}"#
        #expect(error("not json") == "not JSON")
        #expect(error(#"{"version":1,"region":"eu"}"#) == #"missing key "customers""#)
        #expect(error(#"{"version":1,"region":"us","customers":[]}"#) == "the bundle is for region us, this node serves eu")
        #expect(error(#"{"version":1,"region":"eu","customers":[{"id":"c1","region":"us","domains":["a.example"],"webhook":\#(hook)}]}"#)
            == "customer c1 is pinned to us and must not be in the eu bundle")
        #expect(error(#"{"version":1,"region":"eu","customers":[{"id":"c1","domains":["a.example"],"webhook":{"url":"ftp://x","mode":"sync","secret":"\#(Self.secret)"}}]}"#)
            == #"customer c1: "ftp://x" is not an http(s) webhook URL"#)
        #expect(error(#"{"version":1,"region":"eu","customers":[{"id":"c1","domains":["a.example"],"webhook":{"url":"https://h.example","mode":"sync","secret":"nope"}}]}"#)?
            .hasPrefix("customer c1: the webhook secret is malformed") == true)
        #expect(error(#"{"version":1,"region":"eu","customers":[{"id":"c1","domains":["a.example"],"webhook":{"url":"https://h.example","mode":"later","secret":"x"}}]}"#)?
            .hasPrefix(#"bad value at "customers[0].webhook.mode""#) == true)
        #expect(error(#"{"version":1,"region":"eu","customers":[{"id":"c1","domains":["a.example"],"webhook":\#(hook)},{"id":"c2","domains":["A.example"],"webhook":\#(hook)}]}"#)
            == #""a.example" belongs to both c1 and c2"#)
    }

    @Test("RCPT decisions: address before domain, pinned elsewhere, unknown, and one sync customer per transaction")
    func decisions() throws {
        let bundle = NodeBundle(
            version: 4, region: Self.eu,
            customers: [
                Self.customer("cus_q", "queued.example"), Self.customer("cus_q2", "queued2.example"),
                Self.customer("cus_s", "sync.example", mode: .sync),
                Self.customer("cus_addr", "in.example", addresses: ["special@queued.example"]),
            ],
            elsewhere: [.init(domain: "pinned.example", region: RegionID("us")!, mxHost: "us.mx.example")])
        try bundle.validate(expectedRegion: Self.eu)
        let directory = RecipientDirectory(bundle)
        func decide(_ address: String, after accepted: [String] = []) -> SMTPRecipientDecision {
            directory.decide(
                SMTPMailbox(address)!,
                accepted: accepted.map { SMTPTransaction.Recipient(mailbox: SMTPMailbox("x@\($0.replacingOccurrences(of: "_", with: "-")).example")!, customer: $0) })
        }
        #expect(decide("a@QUEUED.example") == .accept(customer: "cus_q"))
        #expect(decide("Special@queued.example") == .accept(customer: "cus_addr"))
        #expect(decide("a@pinned.example") == .pinnedElsewhere(region: "us", mxHost: "us.mx.example"))
        #expect(decide("a@nowhere.example") == .unknown)
        #expect(decide("a@queued2.example", after: ["cus_q"]) == .accept(customer: "cus_q2"))
        #expect(decide("b@sync.example", after: ["cus_s"]) == .accept(customer: "cus_s"))
        guard case .separateTransaction = decide("a@sync.example", after: ["cus_q"]) else {
            Issue.record("a sync customer after a queued one must wait for its own transaction")
            return
        }
        guard case .separateTransaction = decide("a@queued.example", after: ["cus_s"]) else {
            Issue.record("a queued customer after a sync one must wait for its own transaction")
            return
        }
    }

    @Test("a DSN is a multipart/report with the delivery-status fields and the original header")
    func deliveryStatusNotification() {
        let dsn = DeliveryStatusNotification(
            reportingHost: "eu.mx.example", sender: "alice@sender.example", recipient: "inbox@acme.example",
            arrivalDate: Date(timeIntervalSince1970: 0), status: "5.4.7", reason: "lifetime\r\nran out",
            originalHeader: DeliveryStatusNotification.header(of: Array("Subject: hi\r\nFrom: a@b\r\n\r\nbody".utf8)), messageID: "eml_1")
        let text = String(decoding: dsn.encoded(now: Date(timeIntervalSince1970: 0), boundary: "B"), as: UTF8.self)
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n"))
        #expect(text.contains("\r\nReporting-MTA: dns; eu.mx.example\r\n"))
        #expect(text.contains("\r\nArrival-Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
        #expect(text.contains("\r\nFinal-Recipient: rfc822; inbox@acme.example\r\nAction: failed\r\nStatus: 5.4.7\r\n"))
        #expect(text.contains("Diagnostic-Code: X-Webhook; lifetime  ran out\r\n"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nFrom: a@b\r\n\r\n--B--\r\n"))
        #expect(!text.contains("body"))
        let parsed = MIMEMessage(parsing: dsn.encoded())
        #expect(parsed.flags.isEmpty)
    }

    @Test("the canonical writer gives JSONEncoder's sorted-key bytes, secrets in the clear or sealed")
    func canonicalJSON() throws {
        var odd = Self.customer("cus_\"quoted\\", "odd.example", addresses: ["x/y@in.example"])
        odd.region = Self.eu
        odd.webhook.url = "https://hooks.example/päth?q=1&r=\u{01}"
        odd.metadataRedactions = [.helo, .subject]
        odd.filtering = FilteringPolicy(spamMode: .reject, spamThreshold: 7.5, virusMode: .mark, rejectDMARCFailures: true, onScannerFailure: .defer)
        var whole = Self.customer("cus_b", "b.example")
        whole.filtering = .standard
        let bundle = NodeBundle(
            version: 42, region: Self.eu, customers: [odd, whole],
            elsewhere: [.init(domain: "us.example", region: RegionID("us")!, mxHost: "us.mx.example")])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: bundle.canonicalJSON(), as: UTF8.self) == String(decoding: try encoder.encode(bundle), as: UTF8.self))

        let regionKey = Curve25519.KeyAgreement.PrivateKey()
        let sealed = try bundle.sealingSecrets(with: try BundleSealing.Sealer(regionKey: regionKey.publicKey, region: Self.eu))
        #expect(String(decoding: sealed.canonicalJSON(), as: UTF8.self) == String(decoding: try encoder.encode(sealed), as: UTF8.self))

        // What the coordinator sends verifies on a node.
        let key = Curve25519.Signing.PrivateKey()
        let signed = try JSONDecoder().decode(SignedBundle.self, from: Data(try SignedBundle.signedJSON(bundle, with: key)))
        #expect(try signed.verify(with: key.publicKey, region: Self.eu) == bundle)
    }

    @Test("a secret being rotated out travels sealed beside the new one, in canonical JSON, and signs beside it")
    func rotatedSecret() throws {
        var customer = Self.customer("cus_a", "a.example")
        let old = customer.webhook.secret
        customer.webhook.secret = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
        customer.webhook.previousSecret = old
        let bundle = NodeBundle(version: 4, region: Self.eu, customers: [customer])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: bundle.canonicalJSON(), as: UTF8.self) == String(decoding: try encoder.encode(bundle), as: UTF8.self))
        let regionKey = Curve25519.KeyAgreement.PrivateKey()
        let sealed = try bundle.sealingSecrets(with: try BundleSealing.Sealer(regionKey: regionKey.publicKey, region: Self.eu))
        let text = String(decoding: sealed.canonicalJSON(), as: UTF8.self)
        #expect(!text.contains("whsec_") && text.contains("\"previous_secret_sealed\""))
        #expect(String(decoding: sealed.canonicalJSON(), as: UTF8.self) == String(decoding: try encoder.encode(sealed), as: UTF8.self))
        let opened = try NodeBundle.decode(Data(sealed.canonicalJSON()), expectedRegion: Self.eu).openingSecrets(with: regionKey)
        #expect(opened == bundle)
        // The previous secret cannot be passed off as the current one: each is sealed to its own context.
        var swapped = sealed
        swapped.customers[0].webhook.secretSealed = sealed.customers[0].webhook.previousSecretSealed
        #expect(throws: CoreError(.bundleSealedToAnotherKey)) { try swapped.openingSecrets(with: regionKey) }

        let header = try opened.customers[0].webhook.signature().sign(id: "msg_1", timestamp: 1_790_000_000, body: Array("{}".utf8))
        #expect(header.split(separator: " ").count == 2)
        for secret in [old, customer.webhook.secret] {
            #expect(try WebhookSignature(secret: secret).verify(id: "msg_1", timestamp: 1_790_000_000, body: Array("{}".utf8), signatureHeader: header))
        }
    }

    @Test("a POST format and HTTP Basic credentials travel in canonical JSON, the credentials sealed to their own context")
    func formatAndCredentials() throws {
        var customer = Self.customer("cus_a", "a.example")
        customer.webhook.format = .mailgun
        customer.webhook.credentials = "hook-user:s3cr3t:with-colon"
        customer.webhook.eventsURL = "https://events.example/in"
        let bundle = NodeBundle(version: 5, region: Self.eu, customers: [customer, Self.customer("cus_b", "b.example")])
        try bundle.validate(expectedRegion: Self.eu)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: bundle.canonicalJSON(), as: UTF8.self) == String(decoding: try encoder.encode(bundle), as: UTF8.self))
        let regionKey = Curve25519.KeyAgreement.PrivateKey()
        let sealed = try bundle.sealingSecrets(with: try BundleSealing.Sealer(regionKey: regionKey.publicKey, region: Self.eu))
        let text = String(decoding: sealed.canonicalJSON(), as: UTF8.self)
        #expect(!text.contains("s3cr3t") && text.contains("\"credentials_sealed\"") && text.contains("\"format\":\"mailgun\""))
        #expect(text == String(decoding: try encoder.encode(sealed), as: UTF8.self))
        let opened = try NodeBundle.decode(Data(sealed.canonicalJSON()), expectedRegion: Self.eu).openingSecrets(with: regionKey)
        #expect(opened == bundle)
        #expect(opened.customers[1].webhook.postFormat == .json && opened.customers[1].webhook.credentials == nil)
        // Credentials cannot be passed off as the secret, nor left in the clear in a sealed bundle.
        var swapped = sealed
        swapped.customers[0].webhook.secretSealed = sealed.customers[0].webhook.credentialsSealed
        #expect(throws: CoreError(.bundleSealedToAnotherKey)) { try swapped.openingSecrets(with: regionKey) }
        var clear = sealed
        clear.customers[0].webhook.credentialsSealed = nil
        clear.customers[0].webhook.credentials = "u:p"
        #expect(throws: CoreError(.bundleMalformed)) { try clear.openingSecrets(with: regionKey) }
        // Unusable credentials in a hand-written bundle are refused, naming the customer and not the password.
        var bad = customer
        bad.webhook.credentials = "no-colon"
        #expect(throws: CoreError(.bundleInvalid)) { try bad.validate() }
        bad.webhook.credentials = "user:line\r\nbreak"
        #expect(throws: CoreError(.bundleInvalid)) { try bad.validate() }
        bad = customer
        bad.webhook.eventsURL = "ftp://events.example"
        #expect(throws: CoreError(.bundleInvalid)) { try bad.validate() }
    }

    @Test("webhook secrets sealed to the region open only with its key, unchanged")
    func sealedSecrets() throws {
        let bundle = NodeBundle(version: 3, region: Self.eu, customers: [Self.customer("cus_a", "a.example"), Self.customer("cus_b", "b.example")])
        let regionKey = Curve25519.KeyAgreement.PrivateKey()
        let sealed = try bundle.sealingSecrets(with: try BundleSealing.Sealer(regionKey: regionKey.publicKey, region: Self.eu))
        let text = String(decoding: sealed.canonicalJSON(), as: UTF8.self)
        #expect(!text.contains("whsec_") && text.contains("\"secret_sealed\"") && text.contains("\"sealed_key\""))
        // Decoded as a node decodes it: valid while sealed, then opened with the region key.
        let decoded = try NodeBundle.decode(Data(sealed.canonicalJSON()), expectedRegion: Self.eu)
        #expect(try decoded.openingSecrets(with: regionKey) == bundle)
        #expect(try bundle.openingSecrets(with: nil) == bundle, "a hand-written bundle with its secrets in the clear")
        let fresh = try bundle.sealingSecrets(with: try BundleSealing.Sealer(regionKey: regionKey.publicKey, region: Self.eu))
        #expect(fresh.customers[0].webhook.secretSealed != sealed.customers[0].webhook.secretSealed, "a fresh content key each time")

        #expect(throws: CoreError(.bundleSealedToAnotherKey)) { try decoded.openingSecrets(with: nil) }
        #expect(throws: CoreError(.bundleSealedToAnotherKey)) { try decoded.openingSecrets(with: .init()) }
        var otherRegion = decoded
        otherRegion.region = RegionID("us")!
        #expect(throws: CoreError(.bundleSealedToAnotherKey)) { try otherRegion.openingSecrets(with: regionKey) }
        var swapped = decoded
        swapped.customers[0].webhook.secretSealed = decoded.customers[1].webhook.secretSealed
        #expect(throws: CoreError(.bundleSealedToAnotherKey), "a secret moved to another customer") { try swapped.openingSecrets(with: regionKey) }
        var mixed = decoded
        mixed.customers[1].webhook = bundle.customers[1].webhook
        #expect(throws: CoreError(.bundleMalformed)) { try mixed.openingSecrets(with: regionKey) }
    }
}

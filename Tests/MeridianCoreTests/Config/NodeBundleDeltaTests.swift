import Crypto
import Foundation
import MeridianCore
import Testing

@Suite("Config deltas and the directory they apply to")
struct NodeBundleDeltaTests {
    static let eu = NodeBundleTests.eu
    static let us = RegionID("us")!

    static func bundle(version: Int, customers: [NodeBundle.Customer], elsewhere: [NodeBundle.PinnedElsewhere] = []) -> NodeBundle {
        NodeBundle(
            version: version, region: eu, customers: customers.sorted { $0.id < $1.id }, elsewhere: elsewhere.sorted { $0.domain < $1.domain },
            subprocessors: [.init(id: "scanner", name: "Scanner", steps: [.contentAnalysis], egressHosts: [])])
    }

    /// A directory after a delta answers every recipient as a directory built from the new bundle would.
    static func expectSameAnswers(_ directory: RecipientDirectory, _ bundle: NodeBundle, probing domains: [String]) {
        let fresh = RecipientDirectory(bundle)
        for domain in domains {
            let mailbox = SMTPMailbox("someone@\(domain)")!
            #expect(directory.decide(mailbox, accepted: []) == fresh.decide(mailbox, accepted: []), "\(domain)")
        }
        #expect(directory.bundle() == bundle)
        #expect(directory.customerCount == bundle.customers.count)
    }

    @Test("a run of random changes, each sent as a delta, leaves the node with exactly the newest bundle")
    func randomChanges() throws {
        var generator = SystemRandomNumberGenerator()
        var customers = (0..<300).map { NodeBundleTests.customer(String(format: "cus_%04d", $0), "d\($0).example") }
        var elsewhere = (0..<50).map { NodeBundle.PinnedElsewhere(domain: "p\($0).example", region: Self.us, mxHost: "us.mx.example") }
        var old = Self.bundle(version: 1, customers: customers, elsewhere: elsewhere)
        var directory = RecipientDirectory(old)
        var next = 1000
        // Enough rounds to pass the overlay's merge into a new snapshot (4,096 entries) more than once.
        for round in 0..<1500 {
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                switch Int.random(in: 0..<6, using: &generator) {
                case 0 where !customers.isEmpty:
                    customers.remove(at: Int.random(in: 0..<customers.count, using: &generator))
                case 1:
                    next += 1
                    customers.append(NodeBundleTests.customer("cus_n\(next)", "n\(next).example"))
                case 2 where !customers.isEmpty:
                    // A customer gives its domain to a new one in the same version.
                    let index = Int.random(in: 0..<customers.count, using: &generator)
                    next += 1
                    let domain = customers[index].domains[0]
                    customers[index].domains = ["moved\(next).example"]
                    customers.append(NodeBundleTests.customer("cus_n\(next)", domain))
                case 3 where !customers.isEmpty:
                    let index = Int.random(in: 0..<customers.count, using: &generator)
                    customers[index].webhook.mode = customers[index].webhook.mode == .sync ? .queued : .sync
                    customers[index].steps = customers[index].steps.isEmpty ? [.contentAnalysis] : []
                case 4 where !elsewhere.isEmpty:
                    // A domain pinned elsewhere comes home: the same version removes the pin and adds the customer.
                    let pin = elsewhere.remove(at: Int.random(in: 0..<elsewhere.count, using: &generator))
                    next += 1
                    customers.append(NodeBundleTests.customer("cus_n\(next)", pin.domain))
                default:
                    next += 1
                    elsewhere.append(.init(domain: "p\(next).example", region: Self.us, mxHost: "us\(next % 3).mx.example"))
                }
            }
            let new = Self.bundle(version: old.version + 1, customers: customers, elsewhere: elsewhere)
            try new.validate(expectedRegion: Self.eu)
            let delta = NodeBundleDelta.between(old, new)
            let decoded = try NodeBundleDelta.decode(Data(delta.canonicalJSON()), expectedRegion: Self.eu)
            #expect(decoded == delta)
            directory = try directory.applying(decoded)
            if round % 100 == 0 || round == 1499 {
                Self.expectSameAnswers(directory, new, probing: customers.flatMap(\.domains) + elsewhere.map(\.domain) + ["d1.example", "nowhere.example"])
            }
            old = new
        }
    }

    @Test("a delta names only what changed")
    func onlyChanges() {
        let customers = (0..<1000).map { NodeBundleTests.customer("cus_\($0)", "d\($0).example") }
        let old = Self.bundle(version: 7, customers: customers)
        var changed = customers
        changed[500].webhook.url = "https://hooks.example/new"
        changed.remove(at: 10)
        let new = Self.bundle(version: 8, customers: changed)
        let delta = NodeBundleDelta.between(old, new)
        #expect(delta.customers.map(\.id) == ["cus_500"])
        #expect(delta.removedCustomers == ["cus_10"])
        #expect(delta.policy == nil && delta.subprocessors == nil && delta.egress == nil)
        #expect(delta.baseVersion == 7 && delta.version == 8)
        // A few hundred bytes for one customer of a thousand; the snapshot is hundreds of times that.
        #expect(delta.canonicalJSON().count < 600)
        #expect(new.canonicalJSON().count > 100 * delta.canonicalJSON().count)
    }

    @Test("a delta and a snapshot cannot pass for each other")
    func notASnapshot() throws {
        let old = Self.bundle(version: 1, customers: [NodeBundleTests.customer("cus_a", "a.example")])
        let new = Self.bundle(version: 2, customers: [NodeBundleTests.customer("cus_b", "b.example")])
        let delta = NodeBundleDelta.between(old, new)
        #expect(throws: CoreError.self) { try NodeBundle.decode(Data(delta.canonicalJSON()), expectedRegion: Self.eu) }
        #expect(throws: CoreError.self) { try NodeBundleDelta.decode(Data(new.canonicalJSON()), expectedRegion: Self.eu) }
        #expect(throws: CoreError.self) { try NodeBundleDelta.decode(Data("{\"delta\":".utf8), expectedRegion: Self.eu) }
    }

    @Test("bad deltas are refused, with the reason, and change nothing")
    func refusals() throws {
        let customers = [NodeBundleTests.customer("cus_a", "a.example"), NodeBundleTests.customer("cus_b", "b.example")]
        let bundle = Self.bundle(version: 5, customers: customers, elsewhere: [.init(domain: "p.example", region: Self.us, mxHost: "mx.us")])
        let directory = RecipientDirectory(bundle)
        func refusal(_ delta: NodeBundleDelta) -> CoreError? {
            do {
                _ = try directory.applying(delta)
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal(NodeBundleDelta(region: Self.eu, baseVersion: 4, version: 6))?.code == .deltaBaseMismatch)
        #expect(refusal(NodeBundleDelta(region: Self.us, baseVersion: 5, version: 6))?.code == .bundleForAnotherRegion)
        #expect(
            refusal(NodeBundleDelta(region: Self.eu, baseVersion: 5, version: 6, customers: [NodeBundleTests.customer("cus_c", "A.example")]))?.reason
                == #""a.example" belongs to both cus_a and cus_c"#)
        #expect(
            refusal(NodeBundleDelta(region: Self.eu, baseVersion: 5, version: 6, customers: [NodeBundleTests.customer("cus_c", "p.example")]))?.reason
                == #""p.example" belongs to both region us and cus_c"#)
        #expect(
            refusal(NodeBundleDelta(region: Self.eu, baseVersion: 5, version: 6, elsewhere: [.init(domain: "b.example", region: Self.us, mxHost: "mx")]))?
                .reason == #""b.example" belongs to both cus_b and region us"#)
        #expect(refusal(NodeBundleDelta(region: Self.eu, baseVersion: 5, version: 6, removedCustomers: ["cus_zz"]))?.code == .bundleInvalid)
        var pinned = NodeBundleTests.customer("cus_a", "a.example")
        pinned.region = Self.us
        #expect(refusal(NodeBundleDelta(region: Self.eu, baseVersion: 5, version: 6, customers: [pinned]))?.reason == "customer cus_a is pinned to us and must not be in the eu bundle")
        var unserved = NodeBundleTests.customer("cus_a", "a.example")
        unserved.steps = [.contentAnalysis]
        #expect(
            refusal(NodeBundleDelta(region: Self.eu, baseVersion: 5, version: 6, customers: [unserved], subprocessors: []))?.reason
                == "customer cus_a: step content_analysis is not an optional step of a sub-processor in this bundle")
        #expect(directory.bundle() == bundle)
        // Taking a domain another customer gives up in the same delta is fine.
        var giving = NodeBundleTests.customer("cus_a", "a2.example")
        giving.webhook.mode = .sync
        let moved = try directory.applying(
            NodeBundleDelta(region: Self.eu, baseVersion: 5, version: 6, customers: [giving, NodeBundleTests.customer("cus_c", "a.example")]))
        #expect(moved.decide(SMTPMailbox("x@a.example")!, accepted: []) == .accept(customer: "cus_c"))
        #expect(moved.decide(SMTPMailbox("x@a2.example")!, accepted: []) == .accept(customer: "cus_a"))
        #expect(moved.customerCount == 3 && moved.version == 6)
    }

    @Test("a delta's secrets are sealed to the region and open only with its key")
    func sealing() throws {
        let regionKey = Curve25519.KeyAgreement.PrivateKey()
        var customer = NodeBundleTests.customer("cus_a", "a.example")
        customer.webhook.previousSecret = NodeBundleTests.secret
        customer.webhook.credentials = "user:pass"
        let delta = NodeBundleDelta(region: Self.eu, baseVersion: 1, version: 2, customers: [customer])
        let sealed = try delta.sealingSecrets(with: try BundleSealing.Sealer(regionKey: regionKey.publicKey, region: Self.eu))
        let bytes = String(decoding: sealed.canonicalJSON(), as: UTF8.self)
        #expect(!bytes.contains(NodeBundleTests.secret) && !bytes.contains("user:pass"))
        let opened = try NodeBundleDelta.decode(Data(sealed.canonicalJSON()), expectedRegion: Self.eu).openingSecrets(with: regionKey)
        #expect(opened == delta)
        #expect(throws: CoreError.self) { try sealed.openingSecrets(with: Curve25519.KeyAgreement.PrivateKey()) }
        #expect(throws: CoreError.self) { try sealed.openingSecrets(with: nil) }
    }
}

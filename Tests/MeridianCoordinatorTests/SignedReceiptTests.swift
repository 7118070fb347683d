import Crypto
import Foundation
import MeridianCore
import MeridianServer
import Testing
import X509

@testable import MeridianCoordinator

/// Receipts are evidence: the coordinator counts a node's answer only when the key of that node's own
/// certificate signed it, for this ticket, with the records it names. Each refusal here is an answer that the
/// build before counted (it took any JSON that came back from the control URL).
@Suite("Signed receipts: who signed, what they signed, and the records beside it")
struct SignedReceiptTests {
    /// A key and a certificate the harness coordinator's node CA issues to `node` of `region`.
    static func identity(_ harness: APITestHarness, region: String, node: String, authority: NodeAuthority? = nil) throws
        -> (key: P256.Signing.PrivateKey, certificate: Certificate)
    {
        let authority = authority ?? harness.coordinator.keys.authority
        let key = P256.Signing.PrivateKey()
        let certificate = try authority.issueNodeCertificate(
            publicKey: .init(key.publicKey), region: RegionID(region)!, node: node, controlURL: "https://127.0.0.1:1", at: Date())
        return (key, certificate)
    }

    static func receipt(_ ticket: String, region: String = "eu", node: String = "eu-1", data: [String: JSONValue]? = nil) -> DirectiveReceipt {
        DirectiveReceipt(
            requestID: ticket, action: data == nil ? .erasure : .access, region: region, node: node,
            completedAt: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)),
            classes: [DataClassCount(dataClass: "message_metadata", found: 2, erased: data == nil ? 2 : 0)], data: data)
    }

    @Test("only the enrolled node's key, for this ticket, with the records it names, makes an answer")
    func verification() async throws {
        try await APITestHarness.run(.sqlite) { harness, _ in
            let own = try Self.identity(harness, region: "eu", node: "eu-1")
            let node = try await harness.coordinator.nodes.joined(
                "eu-1", region: "eu", controlURL: "https://127.0.0.1:1", serial: own.certificate.serialHex)
            let dispatcher = harness.coordinator.directives
            let records: [String: JSONValue] = ["message_metadata": .array([.string("a delivery")])]

            // The node's own receipt, erasure and access.
            let signed = try SignedReceipt.sign(Self.receipt("dsr_1"), with: own.key, certificate: own.certificate.pem)
            let (receipt, signer) = try dispatcher.verified(signed, for: "dsr_1", from: node)
            #expect(receipt.classes.first?.erased == 2)
            #expect(signer == "spiffe://\(harness.coordinator.keys.authority.zone)/region/eu/node/eu-1 serial \(own.certificate.serialHex)")
            let access = try SignedReceipt.sign(Self.receipt("dsr_1", data: records), with: own.key, certificate: own.certificate.pem)
            #expect(try dispatcher.verified(access, for: "dsr_1", from: node).0.data == records)
            #expect(try access.receipt.decode(DirectiveReceipt.self).data == nil, "the signed part holds no records, only their SHA-256")

            func refused(_ answer: SignedReceipt, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(sourceLocation: sourceLocation) {
                    _ = try dispatcher.verified(answer, for: "dsr_1", from: node)
                } throws: { error in
                    (error as? CoreError)?.code == .nodeSignatureInvalid && (error as? CoreError)?.reason.contains(reason) == true
                }
            }
            // A server that is not the node: a key of its own, with the node's certificate attached.
            refused(try SignedReceipt.sign(Self.receipt("dsr_1"), with: .init(), certificate: own.certificate.pem), "does not verify")
            // Another enrolled node (us-1) answering as eu-1.
            let other = try Self.identity(harness, region: "us", node: "us-1")
            refused(try SignedReceipt.sign(Self.receipt("dsr_1"), with: other.key, certificate: other.certificate.pem), "names spiffe://")
            // A certificate of another CA that names eu-1.
            let foreign = try Self.identity(harness, region: "eu", node: "eu-1", authority: try NodeAuthority.make(zone: harness.coordinator.keys.authority.zone))
            refused(try SignedReceipt.sign(Self.receipt("dsr_1"), with: foreign.key, certificate: foreign.certificate.pem), "not issued by the node CA")
            // eu-1's certificate from before its last two renewals.
            let old = try Self.identity(harness, region: "eu", node: "eu-1")
            refused(try SignedReceipt.sign(Self.receipt("dsr_1"), with: old.key, certificate: old.certificate.pem), "no longer its own")
            // The right signer, the wrong ticket; counts changed after signing; records swapped.
            refused(try SignedReceipt.sign(Self.receipt("dsr_2"), with: own.key, certificate: own.certificate.pem), "not dsr_1")
            var changed = signed
            var statement = try changed.receipt.decode(DirectiveReceipt.self)
            statement.classes[0].erased = 0
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            changed.receipt.statement = try encoder.encode(statement).base64EncodedString()
            refused(changed, "does not verify")
            var swapped = access
            swapped.data = #"{"message_metadata":[]}"#
            refused(swapped, "SHA-256 differs")
            var dropped = access
            dropped.data = nil
            refused(dropped, "did not come with it")
        }
    }

    @Test("a refused receipt leaves the region waiting, says why, and is audited")
    func refusalIsRecorded() async throws {
        try await APITestHarness.run(.sqlite) { harness, client in
            let ticket = try await DirectiveDispatcherTests.start(
                client, harness, ["type": "erasure", "regulation": "gdpr", "subject": ["email": "subject@example.org"]])
            try await harness.coordinator.dataSubjectRequests.recordRefusedReceipt(
                ticket, place: "eu-1", region: "eu", error: "the signature does not verify", at: Date())
            let answers = try await harness.coordinator.dataSubjectRequests.answers(of: ticket)
            let eu = try #require(answers.first { $0.place == "eu-1" })
            #expect(eu.status == .failed && eu.lastError == "the receipt was refused: the signature does not verify")
            let audited = try await harness.coordinator.audit.entries(after: 0, limit: 1000).filter { $0.action == "gdpr_request.receipt_refused" }
            #expect(audited.map(\.target) == [ticket])
        }
    }
}

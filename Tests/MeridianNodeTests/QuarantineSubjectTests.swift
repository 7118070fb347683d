import Foundation
import MeridianCore
import Testing

@testable import MeridianNode

/// Held mail is personal data like spooled mail: an access request counts and exports it, an erasure deletes
/// it unless a customer of it is under a legal hold, and the receipt says which.
@Suite("Quarantine and data-subject requests")
struct QuarantineSubjectTests {
    static func held(_ id: String, from sender: String, customer: String = "cus_a") -> (SpooledMessage, [UInt8]) {
        let spooled = SpooledMessage(
            id: id, receivedAt: Date(), remoteIP: "198.51.100.7", helo: "mail.sender.example", tls: nil, from: sender,
            recipients: [.init(address: "inbox@acme.example", customer: customer, webhookID: "msg_\(id)")], configVersion: 1)
        return (spooled, Array("From: \(sender)\r\nSubject: Held \(id)\r\n\r\nspam spam\r\n".utf8))
    }

    static func hold(_ node: RegionalNode, _ id: String, from sender: String) async throws {
        let (spooled, data) = held(id, from: sender)
        let customer = NodeBundle.Customer(id: "cus_a", region: nil, domains: ["acme.example"], webhook: .init(url: "https://hooks.example/in", mode: .queued, secret: ""))
        try await node.directives.quarantine.hold(spooled, data: data, message: MIMEMessage(parsing: data), customers: [customer], reason: "spam")
    }

    static func directive(_ action: DataSubjectDirective.Action, holds: [LegalHold] = []) -> DataSubjectDirective {
        DataSubjectDirective(
            requestID: "dsr_\(UUID().uuidString.prefix(8))", action: action, subject: .email(ErasureReceiptTests.subject), holds: holds, issuedAt: Date(),
            expiresAt: Date().addingTimeInterval(DataSubjectDirective.lifetime))
    }

    static func quarantined(_ receipt: DirectiveReceipt) -> DataClassCount? {
        receipt.classes.first { $0.dataClass == "quarantined_messages" }
    }

    @Test("access counts and exports the subject's held mail; erasure deletes it and leaves others' alone")
    func accessAndErasure() async throws {
        let node = try await ErasureReceiptTests.node()
        try await Self.hold(node, "eml_01subject", from: ErasureReceiptTests.subject)
        try await Self.hold(node, "eml_02other", from: "bob@example.org")

        let access = try await node.directives.carryOut(Self.directive(.access))
        #expect(Self.quarantined(access)?.found == 1)
        guard case .array(let exported)? = access.data?["quarantined_messages"], exported.count == 1 else {
            Issue.record("the export has no held mail: \(String(describing: access.data?["quarantined_messages"]))")
            return
        }

        let erasure = try await node.directives.carryOut(Self.directive(.erasure))
        #expect(Self.quarantined(erasure) == DataClassCount(dataClass: "quarantined_messages", found: 1, erased: 1))
        #expect(try node.directives.quarantine.vault.open("eml_01subject") == nil)
        #expect(try node.directives.quarantine.vault.open("eml_02other") != nil, "another sender's held mail stays")
        await node.close()
    }

    @Test("a legal hold on the customer keeps the held mail, and the receipt names the reason")
    func legalHold() async throws {
        let node = try await ErasureReceiptTests.node()
        try await Self.hold(node, "eml_03held", from: ErasureReceiptTests.subject)
        let erasure = try await node.directives.carryOut(Self.directive(.erasure, holds: [LegalHold(customerID: "cus_a", reason: "court order 12/2026")]))
        let count = try #require(Self.quarantined(erasure))
        #expect(count.held == 1 && count.erased == 0 && count.holdReasons == ["court order 12/2026"])
        #expect(try node.directives.quarantine.vault.open("eml_03held") != nil)
        await node.close()
    }
}

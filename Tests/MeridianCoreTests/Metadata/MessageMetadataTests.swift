import Foundation
import MeridianCore
import Testing

@Suite("Metadata record, redaction and IP masking")
struct MessageMetadataTests {
    static let raw = Array("""
        From: a@origin.example\r\nTo: inbox@eu-customer.example\r\nSubject: Secret plans\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r
        Message-ID: <m1@origin.example>\r\n\r\nbody\r\n
        """.utf8)

    static func record(redacting redactions: Set<MetadataField>) -> MessageMetadata {
        var envelope = MessageEnvelope(
            to: "inbox@eu-customer.example", recipients: ["inbox@eu-customer.example"], from: "a@origin.example",
            heloDomain: "mail.origin.example", remoteIP: "203.0.113.77", tls: SMTPTLSInfo(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256"),
            size: raw.count)
        envelope.authentication = SenderAuthentication(
            spf: SPFResult(.pass, domain: "origin.example"), dkim: [DKIMResult(.pass, domain: "dkim-signer.example", selector: "s1")],
            dmarc: DMARCResult(.pass, fromDomain: "origin.example", dkimAligned: false))
        return MessageMetadata(
            envelope: envelope, message: MIMEMessage(parsing: raw), receivedAt: Date(timeIntervalSince1970: 1_795_000_000),
            configVersion: 42, redactions: redactions)
    }

    @Test func recordsEveryFieldOfTheDesign() {
        var record = Self.record(redacting: [])
        #expect(record.senderIP == "203.0.113.77")
        #expect(record.helo == "mail.origin.example")
        #expect(record.messageID == "<m1@origin.example>")
        #expect(record.envelopeFrom == "a@origin.example")
        #expect(record.envelopeTo == "inbox@eu-customer.example")
        #expect(record.subject == "Secret plans")
        #expect(record.date == "Mon, 23 Nov 2026 10:00:00 +0000")
        #expect(record.size == Self.raw.count)
        #expect(record.tlsVersion == "TLSv1.3" && record.tlsCipher == "TLS_AES_128_GCM_SHA256")
        #expect(record.configVersion == 42)
        #expect(record.authentication?.dkim.first?.domain == "dkim-signer.example")
        record.recordServerResponse("200 OK")
        #expect(record.serverResponse == "200 OK")
    }

    @Test(arguments: MetadataField.allCases)
    func aRedactedFieldIsNeverInTheRecord(_ field: MetadataField) throws {
        var record = Self.record(redacting: [field])
        record.recordServerResponse("200 OK")
        let encoded = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        let secretValues: [MetadataField: [String]] = [
            .senderIP: ["203.0.113.77"], .helo: ["mail.origin.example"], .messageID: ["m1@origin.example"],
            .envelopeFrom: ["a@origin.example"], .envelopeTo: ["inbox@eu-customer.example"], .subject: ["Secret plans"],
            .date: ["10:00:00"], .tls: ["TLSv1.3", "TLS_AES_128_GCM_SHA256"], .serverResponse: ["200 OK"],
            .authentication: ["dkim-signer.example"],
        ]
        for value in secretValues[field]! {
            #expect(!encoded.contains(value), "\(field) was redacted but \(value) is in \(encoded)")
        }
        #expect(record.redacted == [field])
        // The other fields are still there.
        for (other, values) in secretValues where other != field {
            for value in values { #expect(encoded.contains(value), "\(other) should still be recorded") }
        }
    }

    @Test(arguments: [
        ("203.0.113.77", "203.0.0.0"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::"),
        ("::1", "::"),
        ("::ffff:198.51.100.23", "::ffff:198.51.0.0"),
        ("fe80::1%eth0", "fe80::"),
        ("2001:db8:1:2:3::4", "2001:db8:1::"),
    ])
    func masksAddressesPerThePolicy(_ address: String, _ masked: String) {
        let mask = IPAddressMask(ipv4KeepOctets: 2, ipv6KeepHextets: 3)
        #expect(mask.mask(address) == masked)
    }

    @Test func refusesWhatIsNotAnAddress() {
        let mask = IPAddressMask(ipv4KeepOctets: 2, ipv6KeepHextets: 3)
        for bad in ["", "1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "2001:db8", "12345::", "example.com", "1.2.3.4.5", ":::"] {
            #expect(mask.mask(bad) == nil, "\(bad)")
        }
    }

    @Test func maskingTheRecordKeepsEverythingElse() {
        let policy = IPMaskingPolicy(after: .days(7), ipv4KeepOctets: 2, ipv6KeepHextets: 3)
        let masked = Self.record(redacting: []).maskingSenderIP(policy)
        #expect(masked.senderIP == "203.0.0.0" && masked.senderIPMasked)
        #expect(masked.subject == "Secret plans")
        #expect(masked.maskingSenderIP(policy) == masked, "masking twice changes nothing")
        #expect(Self.record(redacting: [.senderIP]).maskingSenderIP(policy).senderIP == nil)
    }
}

import Foundation
import MeridianCore
import Testing

/// Messages signed by dkimpy (Fixtures/dkim/make_fixtures.py) with RSA and Ed25519 keys, and what each
/// signature must verify as; the keys are answered from a table.
@Suite("DKIM (RFC 6376, RFC 8463): signatures made by dkimpy")
struct DKIMVerifierTests {
    struct Vectors: Decodable {
        struct Vector: Decodable {
            var name: String
            var message: String
            var expect: [String]
        }
        var records: [String: String]
        var vectors: [Vector]
    }

    static let vectors: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/dkim/dkim-vectors.json")
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }()

    static var names: [String] { vectors.vectors.map(\.name) }

    static func verifier() -> DKIMVerifier {
        DKIMVerifier(dns: TableDNS(txt: vectors.records.mapValues { [$0] }), now: { Date(timeIntervalSince1970: 1_800_000_000) })
    }

    @Test("each vector verifies as dkimpy's signer meant", arguments: names)
    func vector(_ name: String) async throws {
        let vector = try #require(Self.vectors.vectors.first { $0.name == name })
        let data = try #require(Data(base64Encoded: vector.message))
        let results = await Self.verifier().verify(Array(data))
        #expect(results.map(\.result.rawValue) == vector.expect, "\(results.map(\.reason))")
        #expect(results.allSatisfy { $0.domain == "signed.example" })
    }

    @Test("a message without signatures has no results")
    func unsigned() async {
        #expect(await Self.verifier().verify(Array("From: a@b.example\r\n\r\nhi\r\n".utf8)).isEmpty)
    }

    @Test("a key lookup that times out is temperror")
    func temperror() async throws {
        let vector = try #require(Self.vectors.vectors.first)
        let dns = TableDNS(failing: ["rsa._domainkey.signed.example"])
        let results = await DKIMVerifier(dns: dns).verify(Array(Data(base64Encoded: vector.message)!))
        #expect(results.map(\.result) == [.temperror])
    }

    @Test("50 signatures: the first 10 are checked, 10 key lookups, and no more")
    func manySignatures() async throws {
        let vector = try #require(Self.vectors.vectors.first)
        let message = String(decoding: Data(base64Encoded: vector.message)!, as: UTF8.self)
        let signature = String(message[..<message.range(of: "From:")!.lowerBound])
        let dns = TableDNS(txt: Self.vectors.records.mapValues { [$0] })
        let results = await DKIMVerifier(dns: dns).verify(Array((String(repeating: signature, count: 50) + message.dropFirst(signature.count)).utf8))
        #expect(results.count == DKIMVerifier.signatureLimit)
        #expect(results.allSatisfy { $0.result == .pass })
        #expect(await dns.queries == DKIMVerifier.signatureLimit)
    }

    @Test("malformed signatures are permerror with a reason, never a crash", arguments: [
        "v=2; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA",
        "v=1; a=rsa-md5; d=x.example; s=s; h=from; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=x.example; s=s; h=subject; bh=AAAA; b=AAAA",
        "v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=!!!!; b=AAAA",
        "v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA; i=@other.example",
        "v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA; l=-5",
        "v=1; a=rsa-sha256; d=x.example; s=s; h=from; bh=AAAA; b=AAAA; t=20; x=10",
        "v=1; v=1; a=rsa-sha256",
        "garbage without tags",
    ])
    func malformed(_ value: String) async {
        let message = "DKIM-Signature: \(value)\r\nFrom: a@x.example\r\n\r\nbody\r\n"
        let results = await Self.verifier().verify(Array(message.utf8))
        #expect(results.map(\.result) == [.permerror])
        #expect(results.first?.reason?.isEmpty == false)
    }

    @Test("rsa-sha1 is refused by policy (RFC 8301) without a key lookup")
    func sha1() async {
        let dns = TableDNS()
        let message = "DKIM-Signature: v=1; a=rsa-sha1; d=x.example; s=s; h=from; bh=AAAA; b=AAAA\r\nFrom: a@x.example\r\n\r\nbody\r\n"
        let results = await DKIMVerifier(dns: dns).verify(Array(message.utf8))
        #expect(results.map(\.result) == [.policy])
        #expect(await dns.queries == 0)
    }
}

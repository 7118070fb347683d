import MeridianCore
import Testing

@Suite("DNS messages and domain checks")
struct DNSMessageTests {
    /// A response to an MX query for a.example with two answers, the second exchange compressed against the first.
    static let mxResponse: [UInt8] = [
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
        1, 0x61, 7, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0, 0, 15, 0, 1,  // question a.example MX
        0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 17, 0, 20, 2, 0x6d, 0x78, 2, 0x65, 0x75, 7, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0,
        0xc0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2, 0x4d, 0x58, 0xc0, 44,  // "MX" + pointer to "eu.example"
    ]

    @Test("a query is a standard recursive query for one name")
    func query() {
        let bytes = DNSMessage.query(id: 0xbeef, name: "a.example", type: .txt)
        #expect(Array(bytes.prefix(4)) == [0xbe, 0xef, 0x01, 0x00])
        #expect(Array(bytes.suffix(4)) == [0, 16, 0, 1])
    }

    @Test("MX answers are parsed through compression and sorted by preference")
    func mx() throws {
        let response = try DNSMessage.parse(Self.mxResponse)
        #expect(response.id == 0x1234 && response.code == .noError)
        #expect(response.records.mx.map(\.host) == ["mx.eu.example", "mx.eu.example"])
        #expect(response.records.mx.map(\.preference) == [10, 20])
    }

    @Test("cut-short messages and pointer loops are errors, not crashes")
    func hostile() {
        for length in 0..<Self.mxResponse.count {
            _ = try? DNSMessage.parse(Array(Self.mxResponse.prefix(length)))
        }
        #expect(throws: DNSMessage.FormatError.self) { try DNSMessage.parse(Array(Self.mxResponse.prefix(40))) }
        let loop: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 15, 0, 1]
        #expect(throws: DNSMessage.FormatError.self) { try DNSMessage.parse(loop) }
        #expect(throws: DNSMessage.FormatError.self) { try DNSMessage.parse([0, 1, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }
    }

    @Test("a domain is verified, missing, on the wrong region, or unknown when the resolver failed")
    func checks() {
        let catalog = try! RegionCatalog.load(directory: RegionCatalogTests.repositoryRegions)
        let eu = RegionID("eu")!
        func check(_ mx: [String]?, _ txt: [String]?, pin: RegionID? = eu) -> DNSDomainCheck {
            DNSDomainCheck(domain: "a.example", pin: pin, token: "tok", catalog: catalog, mx: mx, txt: txt)
        }
        #expect(check(["eu.mx.meridian.example"], ["meridian-verification=tok"]).status == .verified)
        #expect(check(["eu.mx.meridian.example"], ["other"]).status == .missing)
        #expect(check(["eu.mx.meridian.example"], ["other"]).ownership == .missing)
        #expect(check([], []).status == .missing)
        #expect(check(["mail.a.example"], ["meridian-verification=tok"]).status == .missing)
        let wrong = check(["us.mx.meridian.example"], ["meridian-verification=tok"])
        #expect(wrong.status == .wrongRegion && wrong.mxRegion == RegionID("us") && wrong.detail.contains("us region"))
        // A second MX to another region sends some mail there too.
        #expect(check(["eu.mx.meridian.example", "us.mx.meridian.example"], ["meridian-verification=tok"]).status == .wrongRegion)
        #expect(check(["mx.meridian.example"], ["meridian-verification=tok"], pin: nil).status == .verified)
        #expect(check(nil, []).status == .lookupFailed)
    }
}

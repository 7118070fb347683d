import MeridianCore
import Testing

@Suite("DMARC (RFC 7489) and the Public Suffix List")
struct DMARCCheckTests {
    static let suffixes = PublicSuffixList(parsing: """
        // a few rules of the real list's kinds
        com
        uk
        co.uk
        *.ck
        !www.ck
        // ===BEGIN PRIVATE DOMAINS===
        github.io
        рф
        """)

    @Test("organizational domains follow normal, wildcard, exception and internationalized rules")
    func organizationalDomains() {
        #expect(Self.suffixes.organizationalDomain(of: "mail.example.co.uk") == "example.co.uk")
        #expect(Self.suffixes.organizationalDomain(of: "a.b.example.com") == "example.com")
        #expect(Self.suffixes.organizationalDomain(of: "x.y.foo.ck") == "y.foo.ck")
        #expect(Self.suffixes.organizationalDomain(of: "a.www.ck") == "www.ck")
        #expect(Self.suffixes.organizationalDomain(of: "me.github.io") == "me.github.io")
        #expect(Self.suffixes.organizationalDomain(of: "mail.xn--e1afmkfd.xn--p1ai") == "xn--e1afmkfd.xn--p1ai")
        #expect(Self.suffixes.organizationalDomain(of: "host.unlisted") == "host.unlisted")
        #expect(Self.suffixes.organizationalDomain(of: "co.uk") == "co.uk")
    }

    @Test("punycode turns U-labels into the A-labels of RFC 3492's examples")
    func punycode() {
        let list = PublicSuffixList(parsing: "bücher.example\n例え.jp\n")
        #expect(list.publicSuffix(of: "a.xn--bcher-kva.example") == "xn--bcher-kva.example")
        #expect(list.publicSuffix(of: "a.xn--r8jz45g.jp") == "xn--r8jz45g.jp")
    }

    func check(_ dns: TableDNS, from: String = "Alice <alice@news.example.co.uk>", spf: SPFResult, dkim: [DKIMResult] = []) async -> DMARCResult {
        await DMARCCheck(dns: dns, suffixes: Self.suffixes).check(fromFields: [Array(from.utf8)], spf: spf, dkim: dkim)
    }

    @Test("relaxed alignment: SPF or DKIM passing for a domain of the same organization passes")
    func relaxed() async {
        let dns = TableDNS(txt: ["_dmarc.example.co.uk": ["v=DMARC1; p=reject; sp=quarantine"]])
        let spf = await check(dns, spf: SPFResult(.pass, domain: "bounces.example.co.uk"))
        #expect(spf.result == .pass && spf.spfAligned && !spf.dkimAligned)
        #expect(spf.policy == .quarantine)  // sp= for news.example.co.uk, found at the organization
        let dkim = await check(dns, spf: SPFResult(.fail, domain: "other.example"), dkim: [DKIMResult(.pass, domain: "example.co.uk", selector: "s")])
        #expect(dkim.result == .pass && dkim.dkimAligned)
        let neither = await check(dns, spf: SPFResult(.pass, domain: "other.example"), dkim: [DKIMResult(.pass, domain: "other.example", selector: "s")])
        #expect(neither.result == .fail && neither.organizationalDomain == "example.co.uk")
    }

    @Test("strict alignment needs the same domain; p=reject failing is what a customer may refuse")
    func strict() async {
        let dns = TableDNS(txt: ["_dmarc.news.example.co.uk": ["v=DMARC1; p=reject; aspf=s; adkim=s"]])
        let result = await check(dns, spf: SPFResult(.pass, domain: "example.co.uk"), dkim: [DKIMResult(.pass, domain: "example.co.uk", selector: "s")])
        #expect(result.result == .fail && result.policy == .reject && result.failsRejectPolicy)
    }

    @Test("no record, a DNS failure, a bad record and a bad From each give a defined result")
    func others() async {
        let spf = SPFResult(.pass, domain: "example.co.uk")
        #expect(await check(TableDNS(), spf: spf).result == .none)
        #expect(await check(TableDNS(failing: ["_dmarc.news.example.co.uk"]), spf: spf).result == .temperror)
        #expect(await check(TableDNS(txt: ["_dmarc.news.example.co.uk": ["v=DMARC1; p=bogus"]]), spf: spf).result == .permerror)
        #expect(await check(TableDNS(), from: "a@one.example, b@two.example", spf: spf).result == .permerror)
        #expect(await check(TableDNS(), from: "undisclosed-recipients:;", spf: spf).result == .permerror)
        let none = await DMARCCheck(dns: TableDNS(), suffixes: Self.suffixes).check(fromFields: [], spf: spf, dkim: [])
        #expect(none.result == .permerror)
    }

    @Test("From addresses are read past display names, comments and quoted strings")
    func fromParsing() async {
        let dns = TableDNS(txt: ["_dmarc.example.com": ["v=DMARC1; p=none"]])
        let from = "\"Mallory, <evil@attacker.example>\" (comment @x.example) <real@Example.COM>"
        let result = await check(dns, from: from, spf: SPFResult(.pass, domain: "example.com"))
        #expect(result.fromDomain == "example.com" && result.result == .pass)
    }

    @Test("the Authentication-Results field names each verdict and replaces forged ones claiming our name")
    func header() {
        let auth = SenderAuthentication(
            spf: SPFResult(.pass, domain: "example.com"), dkim: [DKIMResult(.fail, domain: "example.com", selector: "s1", signature: "abcd1234", reason: "the body hash does not match")],
            dmarc: DMARCResult(.pass, fromDomain: "example.com", policy: .reject, spfAligned: true))
        let header = auth.header(authservID: "eu.mx.test", sender: "bounce@example.com")
        #expect(header.hasPrefix("Authentication-Results: eu.mx.test;\r\n\tspf=pass smtp.mailfrom=bounce@example.com;"))
        #expect(header.contains("dkim=fail (the body hash does not match) header.d=example.com header.s=s1 header.b=abcd1234"))
        #expect(header.hasSuffix("dmarc=pass (p=reject) header.from=example.com\r\n"))
        let forged = "Authentication-Results: EU.MX.TEST; spf=pass\r\nAuthentication-Results: other.example; spf=fail\r\nSubject: x\r\n\r\nbody\r\n"
        let stamped = String(decoding: SenderAuthentication.stamp(Array(forged.utf8), header: header, authservID: "eu.mx.test"), as: UTF8.self)
        #expect(stamped == header + "Authentication-Results: other.example; spf=fail\r\nSubject: x\r\n\r\nbody\r\n")
    }
}

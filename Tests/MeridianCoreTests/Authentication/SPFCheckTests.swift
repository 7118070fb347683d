import MeridianCore
import Testing

@Suite("SPF (RFC 7208): records, check_host and its limits")
struct SPFCheckTests {
    static let client = IPAddress(host: "192.0.2.10")!

    func check(_ dns: TableDNS, ip: IPAddress = client, sender: String = "alice@sender.example", helo: String = "mail.sender.example") async -> SPFResult {
        await SPFCheck(dns: dns).check(ip: ip, sender: sender, helo: helo)
    }

    @Test("ip4, a, mx and include match the client; the qualifier gives the result")
    func mechanisms() async {
        let dns = TableDNS(
            txt: [
                "sender.example": ["v=spf1 ip4:198.51.100.0/24 a:web.sender.example mx include:_spf.partner.example -all"],
                "_spf.partner.example": ["v=spf1 ip4:203.0.113.7 ~all"],
            ],
            a: ["web.sender.example": ["192.0.2.99"], "mx1.sender.example": ["192.0.2.10"]],
            mx: ["sender.example": ["mx1.sender.example"]])
        #expect(await check(dns).result == .pass)  // by mx
        #expect(await check(dns, ip: IPAddress(host: "198.51.100.200")!).result == .pass)  // ip4 /24
        #expect(await check(dns, ip: IPAddress(host: "203.0.113.7")!).result == .pass)  // include
        #expect(await check(dns, ip: IPAddress(host: "192.0.2.99")!).result == .pass)  // a:
        let other = await check(dns, ip: IPAddress(host: "233.252.0.1")!)
        #expect(other.result == .fail && other.domain == "sender.example")
    }

    @Test("the qualifiers ~ and ? give softfail and neutral; no match and no all give neutral")
    func qualifiers() async {
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 ~all"]])).result == .softfail)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 ?all"]])).result == .neutral)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 ip4:10.0.0.1"]])).result == .neutral)
    }

    @Test("no record is none; two records, an unknown mechanism or bad syntax are permerror")
    func noneAndPermerror() async {
        #expect(await check(TableDNS()).result == .none)
        #expect(await check(TableDNS(txt: ["sender.example": ["google-site-verification=abc"]])).result == .none)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 -all", "v=spf1 +all"]])).result == .permerror)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 foo:bar -all"]])).result == .permerror)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 ip4:300.1.1.1 -all"]])).result == .permerror)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 a/33 -all"]])).result == .permerror)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 include:%{z}.example -all"]])).result == .permerror)
    }

    @Test("a DNS failure is temperror, in the record's own lookup or in an include's")
    func temperror() async {
        #expect(await check(TableDNS(failing: ["sender.example"])).result == .temperror)
        let dns = TableDNS(txt: ["sender.example": ["v=spf1 include:slow.example -all"]], failing: ["slow.example"])
        #expect(await check(dns).result == .temperror)
    }

    @Test("more than 10 DNS-querying terms is permerror, and the 11th is never asked")
    func lookupLimit() async {
        var txt: [String: [String]] = ["sender.example": ["v=spf1 include:l1.example -all"]]
        for level in 1...15 { txt["l\(level).example"] = ["v=spf1 include:l\(level + 1).example -all"] }
        let dns = TableDNS(txt: txt)
        let result = await check(dns)
        #expect(result.result == .permerror)
        #expect(result.reason?.contains("more than 10") == true)
        #expect(await dns.queries <= 11)
    }

    @Test("a record that includes itself stops at the limit instead of looping")
    func loop() async {
        let dns = TableDNS(txt: ["sender.example": ["v=spf1 include:sender.example -all"]])
        #expect(await check(dns).result == .permerror)
    }

    @Test("more than two lookups that find nothing (void lookups) is permerror")
    func voidLimit() async {
        let dns = TableDNS(txt: ["sender.example": ["v=spf1 a:n1.example a:n2.example a:n3.example -all"]])
        let result = await check(dns)
        #expect(result.result == .permerror && result.reason?.contains("found nothing") == true)
        let two = TableDNS(txt: ["sender.example": ["v=spf1 a:n1.example a:n2.example -all"]])
        #expect(await check(two).result == .fail)
    }

    @Test("redirect= applies when nothing matched, and to a domain without SPF it is permerror")
    func redirect() async {
        let dns = TableDNS(txt: ["sender.example": ["v=spf1 redirect=_spf.sender.example"], "_spf.sender.example": ["v=spf1 ip4:192.0.2.0/24 -all"]])
        #expect(await check(dns).result == .pass)
        #expect(await check(TableDNS(txt: ["sender.example": ["v=spf1 redirect=nowhere.example"]])).result == .permerror)
    }

    @Test("macros expand the sender, the domain and the client address, reversed and cut")
    func macros() async {
        let dns = TableDNS(
            txt: ["sender.example": ["v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d2} -all"]],
            a: ["10.2.0.192.alice._spf.sender.example": ["127.0.0.2"]])
        #expect(await check(dns).result == .pass)
        #expect(await check(dns, sender: "bob@sender.example").result == .fail)
    }

    @Test("IPv6 clients match ip6 and AAAA; an IPv4-mapped client is checked as IPv4")
    func ipv6() async {
        let dns = TableDNS(
            txt: ["sender.example": ["v=spf1 ip6:2001:db8::/32 a:v6.sender.example ip4:192.0.2.10 -all"]],
            aaaa: ["v6.sender.example": ["2001:db9::1"]])
        #expect(await check(dns, ip: IPAddress(host: "2001:db8::5")!).result == .pass)
        #expect(await check(dns, ip: IPAddress(host: "2001:db9::1")!).result == .pass)
        #expect(await check(dns, ip: IPAddress(host: "::ffff:192.0.2.10")!).result == .pass)
        #expect(await check(dns, ip: IPAddress(host: "2001:dba::1")!).result == .fail)
    }

    @Test("an empty MAIL FROM is checked as postmaster at the HELO name")
    func nullSender() async {
        let dns = TableDNS(txt: ["mail.sender.example": ["v=spf1 ip4:192.0.2.10 -all"]])
        let result = await check(dns, sender: "")
        #expect(result.result == .pass && result.domain == "mail.sender.example")
        #expect(await check(TableDNS(), sender: "", helo: "[192.0.2.10]").result == .none)
    }
}

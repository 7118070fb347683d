import MeridianCore
import Testing

@Suite("Egress policy: where a request made for a customer may go")
struct EgressPolicyTests {
    @Test("the numeric spellings resolvers accept read as the address they reach")
    func lenientIPv4() {
        for text in ["169.254.169.254", "2852039166", "0xa9fea9fe", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376", "169.254.43518", "169.16689662"] {
            #expect(IPAddress(host: text) == .v4([169, 254, 169, 254]), "\(text)")
        }
        #expect(IPAddress(host: "0x7f.1") == .v4([127, 0, 0, 1]))
        #expect(IPAddress(host: "127.1") == .v4([127, 0, 0, 1]))
        #expect(IPAddress(host: "[::ffff:169.254.169.254]")?.embeddedIPv4 == [169, 254, 169, 254])
        #expect(IPAddress(host: "1.2.3.256") == nil && IPAddress(host: "hooks.example.com") == nil && IPAddress(host: "4294967296") == nil)
        #expect(IPAddress.looksNumeric("1.2.3.999") && IPAddress.looksNumeric("example.0x10") && !IPAddress.looksNumeric("hooks.example.com"))
    }

    @Test("production refuses every non-public address and http, naming the rule; public https passes")
    func production() {
        let policy = EgressPolicy.production
        let refused = [
            "https://127.0.0.1/", "https://2852039166/", "https://0x7f.1/", "https://[::ffff:169.254.169.254]/", "https://[::1]:8443/x",
            "https://10.1.2.3/", "https://172.20.0.1/", "https://192.168.1.1/", "https://100.64.0.1/", "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/", "https://224.0.0.1/", "https://[fd00::1]/", "https://[fe80::1]/", "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:7f00:1::]/", "https://localhost/", "https://api.localhost/", "https://db.internal/", "https://printer.local/",
            "https://1.2.3.999/",
        ]
        for url in refused {
            let refusal = policy.refusal(forURL: url)
            #expect(refusal?.rule == .address || refusal?.rule == .malformed, "\(url)")
        }
        #expect(policy.refusal(forURL: "http://hooks.example.com/in")?.rule == .scheme)
        #expect(policy.refusal(forURL: "ftp://hooks.example.com/in")?.rule == .scheme)
        #expect(policy.refusal(forURL: "https://[::ffff:169.254.169.254]/")?.reason.contains("link-local") == true)
        for url in ["https://hooks.example.com/in?token=x", "https://93.184.216.34/", "https://[2606:4700::1111]/"] {
            #expect(policy.refusal(forURL: url) == nil, "\(url)")
        }
    }

    @Test("the sandbox allows http and loopback, nothing else private; an operator's network is allowed by name")
    func allowances() {
        #expect(EgressPolicy.sandbox.refusal(forURL: "http://127.0.0.1:8000/mail") == nil)
        #expect(EgressPolicy.sandbox.refusal(forURL: "http://localhost:8000/mail") == nil)
        #expect(EgressPolicy.sandbox.refusal(forURL: "http://10.0.0.5/mail")?.rule == .address)
        #expect(EgressPolicy.sandbox.refusal(forURL: "http://169.254.169.254/")?.rule == .address)
        let operators = EgressPolicy(allowedNetworks: [IPNetwork("10.20.0.0/16")!])
        #expect(operators.refusal(forURL: "https://10.20.3.4/") == nil && operators.refusal(forURL: "https://10.21.0.1/") != nil)
        #expect(IPNetwork("10.20.0.0/33") == nil && IPNetwork("fd00::/8") != nil && IPNetwork("example/8") == nil)
    }
}

import MeridianCore

/// DNS answered from a table, for the unit tests of SPF, DKIM and DMARC: TXT, A, AAAA and MX records by
/// name; names listed in `failing` answer as a resolver that timed out. Every query is counted. (The system
/// tests ask a real DNS server, dnslib on loopback, through the node's resolver.)
actor TableDNS: DNSLookup {
    var txt: [String: [String]] = [:]
    var a: [String: [String]] = [:]
    var aaaa: [String: [String]] = [:]
    var mx: [String: [String]] = [:]
    var failing: Set<String> = []
    private(set) var queries = 0

    init(txt: [String: [String]] = [:], a: [String: [String]] = [:], aaaa: [String: [String]] = [:], mx: [String: [String]] = [:], failing: Set<String> = []) {
        self.txt = txt
        self.a = a
        self.aaaa = aaaa
        self.mx = mx
        self.failing = failing
    }

    func lookup(_ name: String, _ type: DNSMessage.RecordType) async throws(DNSLookupError) -> DNSAnswer {
        queries += 1
        let name = name.lowercased()
        if failing.contains(name) { throw DNSLookupError(.timeout, "\(name) timed out") }
        let known = Set(txt.keys).union(a.keys).union(aaaa.keys).union(mx.keys)
        guard known.contains(name) else { return .noSuchName }
        let data: [DNSMessage.RecordData] =
            switch type {
            case .txt: (txt[name] ?? []).map { .txt($0) }
            case .a: (a[name] ?? []).compactMap { IPAddress(host: $0).map { .address($0) } }
            case .aaaa: (aaaa[name] ?? []).compactMap { IPAddress(host: $0).map { .address($0) } }
            case .mx: (mx[name] ?? []).enumerated().map { .mx(DNSMessage.MX(preference: UInt16(10 * ($0.offset + 1)), host: $0.element)) }
            default: []
            }
        return DNSAnswer(nameExists: true, records: data.map { DNSMessage.Record(name: name, ttl: 60, data: $0) })
    }
}

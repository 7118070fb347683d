/// The Public Suffix List (publicsuffix.org), which DMARC uses to find a domain's organizational domain
/// (RFC 7489 §3.2): the registrable part, one label below the longest matching public suffix. Nodes load
/// the copy the project ships (`Regions/public_suffix_list.dat`, refreshed by `scripts/update-public-suffix-list`).
public struct PublicSuffixList: Sendable {
    private var rules: Set<String> = []
    /// `*.ck` is kept as `ck`: any single label below it is a suffix.
    private var wildcards: Set<String> = []
    /// `!www.ck` is kept as `www.ck`: not a suffix despite a wildcard.
    private var exceptions: Set<String> = []

    public var count: Int { rules.count + wildcards.count + exceptions.count }

    /// Parses the list's text: one rule per line, `//` comments, internationalized rules turned into A-labels.
    public init(parsing text: String) {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard let rule = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first, !rule.hasPrefix("//") else { continue }
            var labels = rule.lowercased().split(separator: ".").map(String.init)
            guard !labels.isEmpty else { continue }
            var exception = false
            if labels[0].hasPrefix("!") {
                exception = true
                labels[0].removeFirst()
            }
            let ascii = labels.map { label in label.unicodeScalars.allSatisfy(\.isASCII) ? label : Punycode.aLabel(label) }
            guard !ascii.contains(where: { $0 == nil }) else { continue }
            let name = ascii.map { $0! }
            if exception {
                exceptions.insert(name.joined(separator: "."))
            } else if name[0] == "*" {
                wildcards.insert(name.dropFirst().joined(separator: "."))
            } else {
                rules.insert(name.joined(separator: "."))
            }
        }
    }

    /// The public suffix of `domain` (lower case, A-labels): `co.uk` for `mail.example.co.uk`. A name under
    /// no rule has its last label as suffix (the list's default rule `*`).
    public func publicSuffix(of domain: String) -> String {
        let labels = domain.lowercased().split(separator: ".")
        guard !labels.isEmpty else { return domain }
        for start in labels.indices {
            let candidate = labels[start...].joined(separator: ".")
            if exceptions.contains(candidate) { return labels[(start + 1)...].joined(separator: ".") }
            if rules.contains(candidate) { return candidate }
            if start + 1 < labels.count, wildcards.contains(labels[(start + 1)...].joined(separator: ".")) { return candidate }
        }
        return String(labels.last!)
    }

    /// The organizational domain: the public suffix and one label more; a public suffix is its own. Empty
    /// labels (`a..b`, a final dot) are dropped, as a resolver would.
    public func organizationalDomain(of domain: String) -> String {
        let labels = domain.lowercased().split(separator: ".")
        let suffixCount = publicSuffix(of: labels.joined(separator: ".")).split(separator: ".").count
        return labels.suffix(min(labels.count, suffixCount + 1)).joined(separator: ".")
    }
}

/// Punycode (RFC 3492), to turn the list's internationalized rules into the A-labels mail carries.
enum Punycode {
    static func aLabel(_ label: String) -> String? {
        encode(Array(label.unicodeScalars.map(\.value))).map { "xn--" + $0 }
    }

    static func encode(_ input: [UInt32]) -> String? {
        let base: UInt32 = 36, tMin: UInt32 = 1, tMax: UInt32 = 26, skew: UInt32 = 38, damp: UInt32 = 700
        func digit(_ d: UInt32) -> Character { Character(UnicodeScalar(d < 26 ? d + 97 : d + 22)!) }
        func adapt(_ delta: UInt32, _ count: UInt32, _ first: Bool) -> UInt32 {
            var delta = first ? delta / damp : delta / 2
            delta += delta / count
            var k: UInt32 = 0
            while delta > ((base - tMin) * tMax) / 2 {
                delta /= base - tMin
                k += base
            }
            return k + (base - tMin + 1) * delta / (delta + skew)
        }
        var output = String(input.filter { $0 < 0x80 }.map { Character(UnicodeScalar($0)!) })
        let basicCount = UInt32(output.count)
        var handled = basicCount
        if basicCount > 0 { output.append("-") }
        var n: UInt32 = 0x80, delta: UInt32 = 0, bias: UInt32 = 72
        while handled < input.count {
            guard let m = input.filter({ $0 >= n }).min() else { return nil }
            let (step, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            delta += step
            n = m
            for c in input {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return output
    }
}

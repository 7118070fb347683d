/// A parsed SPF record (RFC 7208 §4.6, §12): `v=spf1` followed by directives and modifiers. Domain specs
/// stay as macro strings; ``SPFCheck`` expands them when it evaluates the record.
public struct SPFRecord: Sendable, Equatable {
    public enum Qualifier: Character, Sendable {
        case pass = "+", fail = "-", softfail = "~", neutral = "?"
    }

    public enum Mechanism: Sendable, Equatable {
        case all
        case include(String)
        /// `a` and `mx`: the domain spec (nil for the current domain) and the IPv4 and IPv6 prefix lengths.
        case a(String?, v4: Int, v6: Int)
        case mx(String?, v4: Int, v6: Int)
        case ptr(String?)
        case ip4(IPNetwork)
        case ip6(IPNetwork)
        case exists(String)

        /// Whether evaluating it costs one of the ten DNS-querying terms (§4.6.4).
        var queriesDNS: Bool {
            switch self {
            case .include, .a, .mx, .ptr, .exists: true
            case .all, .ip4, .ip6: false
            }
        }
    }

    public struct Directive: Sendable, Equatable {
        public var qualifier: Qualifier
        public var mechanism: Mechanism
    }

    public var directives: [Directive]
    public var redirect: String?
    public var explanation: String?

    public struct SyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Whether a TXT record is an SPF record at all: `v=spf1` alone or followed by a space (§4.5).
    public static func isSPF(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower == "v=spf1" || lower.hasPrefix("v=spf1 ")
    }

    public init(parsing text: String) throws(SyntaxError) {
        guard Self.isSPF(text) else { throw SyntaxError("the record does not start with v=spf1") }
        guard text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw SyntaxError("the record has characters outside printable ASCII") }
        directives = []
        for term in text.split(separator: " ").dropFirst() {
            try parse(term: term)
        }
    }

    private mutating func parse(term: Substring) throws(SyntaxError) {
        // A modifier is name=value where the name is ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ).
        if let equals = term.firstIndex(of: "="), term[..<equals].allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }),
            term.first?.isLetter == true
        {
            let name = term[..<equals].lowercased()
            let value = String(term[term.index(after: equals)...])
            try Self.checkMacroString(value)
            switch name {
            case "redirect":
                guard redirect == nil else { throw SyntaxError("redirect= appears twice") }
                guard !value.isEmpty else { throw SyntaxError("redirect= has no domain") }
                redirect = value
            case "exp":
                guard explanation == nil else { throw SyntaxError("exp= appears twice") }
                explanation = value
            default:
                break  // unknown modifiers are ignored (§6)
            }
            return
        }
        var rest = term
        var qualifier = Qualifier.pass
        if let first = rest.first, let explicit = Qualifier(rawValue: first) {
            qualifier = explicit
            rest = rest.dropFirst()
        }
        let nameEnd = rest.firstIndex(where: { $0 == ":" || $0 == "/" }) ?? rest.endIndex
        let name = rest[..<nameEnd].lowercased()
        let argument = rest[nameEnd...]
        directives.append(Directive(qualifier: qualifier, mechanism: try Self.mechanism(name, argument, term: term)))
    }

    private static func mechanism(_ name: String, _ argument: Substring, term: Substring) throws(SyntaxError) -> Mechanism {
        func domain(required: Bool) throws(SyntaxError) -> String? {
            guard argument.hasPrefix(":") else {
                if required || !argument.isEmpty { throw SyntaxError("\(term) needs :domain") }
                return nil
            }
            let spec = String(argument.dropFirst())
            guard !spec.isEmpty else { throw SyntaxError("\(term) has an empty domain") }
            try checkMacroString(spec)
            return spec
        }
        switch name {
        case "all":
            guard argument.isEmpty else { throw SyntaxError("all takes no argument") }
            return .all
        case "include": return .include(try domain(required: true)!)
        case "exists": return .exists(try domain(required: true)!)
        case "ptr": return .ptr(try domain(required: false))
        case "a", "mx":
            var spec = argument
            var v4 = 32, v6 = 128
            if let slash = spec.firstIndex(of: "/"), spec[..<slash].isEmpty || spec.hasPrefix(":") {
                let cidr = spec[slash...]
                spec = spec[..<slash]
                (v4, v6) = try dualCIDR(cidr, term: term)
            }
            let target: String?
            if spec.isEmpty {
                target = nil
            } else {
                guard spec.hasPrefix(":"), spec.count > 1 else { throw SyntaxError("\(term) is not a valid \(name) mechanism") }
                target = String(spec.dropFirst())
                try checkMacroString(target!)
            }
            return name == "a" ? .a(target, v4: v4, v6: v6) : .mx(target, v4: v4, v6: v6)
        case "ip4":
            guard argument.hasPrefix(":"), let network = IPNetwork(String(argument.dropFirst())), case .v4 = network.address else {
                throw SyntaxError("\(term) is not an IPv4 address or network")
            }
            return .ip4(network)
        case "ip6":
            guard argument.hasPrefix(":"), let network = IPNetwork(String(argument.dropFirst())), case .v6 = network.address else {
                throw SyntaxError("\(term) is not an IPv6 address or network")
            }
            return .ip6(network)
        default:
            throw SyntaxError("\(term) is not an SPF mechanism")
        }
    }

    /// `/N`, `//M` or `/N//M`.
    private static func dualCIDR(_ text: Substring, term: Substring) throws(SyntaxError) -> (Int, Int) {
        func length(_ part: Substring, max: Int) throws(SyntaxError) -> Int {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit), let value = Int(part), value <= max,
                !(part.count > 1 && part.hasPrefix("0"))
            else { throw SyntaxError("\(term) has a bad prefix length") }
            return value
        }
        if text.hasPrefix("//") { return (32, try length(text.dropFirst(2), max: 128)) }
        let body = text.dropFirst()
        if let double = body.firstRange(of: "//") {
            return (try length(body[..<double.lowerBound], max: 32), try length(body[double.upperBound...], max: 128))
        }
        return (try length(body, max: 32), 128)
    }

    /// Checks the macro syntax (§7.1) so that a bad record is a permerror before anything is looked up.
    static func checkMacroString(_ text: String) throws(SyntaxError) {
        do {
            _ = try SPFMacro.expand(text, with: .placeholder)
        } catch {
            throw SyntaxError(error.description)
        }
    }
}

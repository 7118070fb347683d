/// SPF macro expansion (RFC 7208 §7): `%{d}`, `%{ir}.%{v}._spf.%{d2}` and the like, with the escapes `%%`,
/// `%_` and `%-`.
enum SPFMacro {
    struct Context: Sendable {
        var sender: String
        var localPart: String
        var senderDomain: String
        var domain: String
        var ip: IPAddress
        var helo: String

        static let placeholder = Context(
            sender: "postmaster@example.invalid", localPart: "postmaster", senderDomain: "example.invalid", domain: "example.invalid",
            ip: .v4([192, 0, 2, 1]), helo: "example.invalid")
    }

    struct SyntaxError: Error, CustomStringConvertible {
        var description: String
    }

    static func expand(_ text: String, with context: Context, explanation: Bool = false) throws(SyntaxError) -> String {
        var output = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            index = text.index(after: index)
            guard character == "%" else {
                output.append(character)
                continue
            }
            guard index < text.endIndex else { throw SyntaxError(description: "a macro string ends with %") }
            let next = text[index]
            index = text.index(after: index)
            switch next {
            case "%": output += "%"
            case "_": output += " "
            case "-": output += "%20"
            case "{":
                guard let close = text[index...].firstIndex(of: "}") else { throw SyntaxError(description: "a macro %{ is not closed") }
                output += try macro(text[index..<close], context: context, explanation: explanation)
                index = text.index(after: close)
            default:
                throw SyntaxError(description: "%\(next) is not an SPF macro")
            }
        }
        return output
    }

    /// One `%{...}`: a letter, an optional count of parts to keep, `r` to reverse, and delimiters.
    private static func macro(_ body: Substring, context: Context, explanation: Bool) throws(SyntaxError) -> String {
        guard let letter = body.first else { throw SyntaxError(description: "an empty macro %{}") }
        var rest = body.dropFirst()
        let digits = rest.prefix(while: \.isASCIIDigit)
        rest = rest.dropFirst(digits.count)
        var keep: Int? = nil
        if !digits.isEmpty {
            guard digits.count <= 3, let count = Int(digits), count > 0 else { throw SyntaxError(description: "%{\(body)} keeps no parts") }
            keep = count
        }
        var reverse = false
        if rest.first == "r" || rest.first == "R" {
            reverse = true
            rest = rest.dropFirst()
        }
        guard rest.allSatisfy({ ".-+,/_=".contains($0) }) else { throw SyntaxError(description: "%{\(body)} has bad delimiters") }
        let delimiters = rest.isEmpty ? Set<Character>(["."]) : Set(rest)
        let value: String
        switch letter.lowercased() {
        case "s": value = context.sender
        case "l": value = context.localPart
        case "o": value = context.senderDomain
        case "d": value = context.domain
        case "i": value = dotted(context.ip)
        case "p": value = "unknown"  // the validated name is not looked up (the RFC discourages %{p})
        case "v": value = if case .v4 = context.ip { "in-addr" } else { "ip6" }
        case "h": value = context.helo
        case "c" where explanation: value = context.ip.description
        case "r" where explanation: value = "unknown"
        case "t" where explanation: value = "0"
        default: throw SyntaxError(description: "%{\(letter)} is not an SPF macro letter here")
        }
        var parts = value.split(whereSeparator: { delimiters.contains($0) }).map(String.init)
        if reverse { parts.reverse() }
        if let keep, parts.count > keep { parts = Array(parts.suffix(keep)) }
        let joined = parts.joined(separator: ".")
        return letter.isUppercase ? percentEncoded(joined) : joined
    }

    /// `%{i}`: an IPv4 address as it is written, an IPv6 address as 32 dot-separated nibbles.
    static func dotted(_ ip: IPAddress) -> String {
        switch ip {
        case .v4(let bytes): return bytes.map(String.init).joined(separator: ".")
        case .v6(let bytes):
            let hex = Array("0123456789abcdef")
            return bytes.flatMap { [String(hex[Int($0 >> 4)]), String(hex[Int($0 & 0xF)])] }.joined(separator: ".")
        }
    }

    private static func percentEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            let unreserved = (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || "-._~".utf8.contains(byte)
            output += unreserved ? String(UnicodeScalar(byte)) : "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
        }
        return output
    }

    /// A domain longer than 253 characters loses labels from the left until it fits (§7.3).
    static func truncated(_ domain: String) -> String {
        var labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        while labels.joined(separator: ".").utf8.count > 253, labels.count > 1 { labels.removeFirst() }
        return labels.joined(separator: ".")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A tag=value list (RFC 6376 §3.2), the syntax of DKIM-Signature fields, DKIM key records and DMARC records:
/// `v=1; a=rsa-sha256; d=example.com`. Whitespace around tags and values is dropped; a tag may appear once.
struct TagList: Sendable {
    private(set) var tags: [(name: String, value: String)] = []

    struct SyntaxError: Error, CustomStringConvertible {
        var description: String
    }

    init(parsing text: String) throws(SyntaxError) {
        for spec in text.split(separator: ";", omittingEmptySubsequences: false) {
            let trimmed = spec.trimmingWhitespace()
            if trimmed.isEmpty { continue }  // a trailing ";" is allowed
            guard let equals = trimmed.firstIndex(of: "=") else { throw SyntaxError(description: "\(trimmed.prefix(40)) is not tag=value") }
            let name = trimmed[..<equals].trimmingWhitespace()
            guard let first = name.first, first.isASCII, first.isLetter, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else { throw SyntaxError(description: "\(name.prefix(40)) is not a tag name") }
            guard !tags.contains(where: { $0.name == name }) else { throw SyntaxError(description: "the tag \(name)= appears twice") }
            tags.append((String(name), String(trimmed[trimmed.index(after: equals)...].trimmingWhitespace())))
        }
    }

    subscript(_ name: String) -> String? {
        tags.first { $0.name == name }?.value
    }
}

extension Substring {
    /// Without the spaces, tabs and line breaks at either end.
    func trimmingWhitespace() -> Substring {
        let isSpace = { (c: Character) in c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" }
        var text = self
        while let first = text.first, isSpace(first) { text = text.dropFirst() }
        while let last = text.last, isSpace(last) { text = text.dropLast() }
        return text
    }
}

extension String {
    /// Without any space, tab or line break (a base64 value folded over lines).
    func removingWhitespace() -> String {
        // By byte, not by Character: b= and p= values run to hundreds of characters in every message.
        String(decoding: utf8.filter { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A) }, as: UTF8.self)
    }
}

import Foundation

/// What the node learned about who sent a message: SPF for the envelope, DKIM for each signature (the first
/// ten), DMARC for the From domain. Kept in the metadata record, posted as `envelope.spf`, `envelope.dkim` and
/// `envelope.dmarc`, and summed up in the `Authentication-Results` field added to the message (RFC 8601).
public struct SenderAuthentication: Sendable, Hashable, Codable {
    public var spf: SPFResult
    public var dkim: [DKIMResult]
    public var dmarc: DMARCResult

    public init(spf: SPFResult, dkim: [DKIMResult], dmarc: DMARCResult) {
        self.spf = spf
        self.dkim = dkim
        self.dmarc = dmarc
    }

    /// The `Authentication-Results` field, folded, with its CRLF. `authservID` is the node's host name.
    public func header(authservID: String, sender: String) -> String {
        var clauses: [String] = []
        let mailFrom = sender.isEmpty ? "smtp.helo=\(Self.value(spf.domain))" : "smtp.mailfrom=\(Self.value(sender))"
        clauses.append("spf=\(spf.result.rawValue) \(mailFrom)")
        if dkim.isEmpty {
            clauses.append("dkim=none")
        }
        for signature in dkim {
            var clause = "dkim=\(signature.result.rawValue)"
            if let reason = signature.reason { clause += " (\(Self.comment(reason)))" }
            clause += " header.d=\(Self.value(signature.domain)) header.s=\(Self.value(signature.selector))"
            if let b = signature.signature { clause += " header.b=\(Self.value(b))" }
            clauses.append(clause)
        }
        var dmarcClause = "dmarc=\(dmarc.result.rawValue)"
        if let policy = dmarc.policy { dmarcClause += " (p=\(policy.rawValue))" }
        if !dmarc.fromDomain.isEmpty { dmarcClause += " header.from=\(Self.value(dmarc.fromDomain))" }
        clauses.append(dmarcClause)
        return "Authentication-Results: \(Self.value(authservID));\r\n\t" + clauses.joined(separator: ";\r\n\t") + "\r\n"
    }

    /// A value as RFC 8601 allows it: a token, or a quoted string when it has other characters.
    static func value(_ text: String) -> String {
        let token = !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"()<>,;:\\\"/[]?=".utf8.contains($0) || $0 == 0x2E || $0 == 0x40 }
        if token { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").filter { $0.isASCII && !$0.isNewline } + "\""
    }

    /// A comment's text: printable ASCII without parentheses or backslashes.
    static func comment(_ text: String) -> String {
        String(text.prefix(120).map { $0.isASCII && !$0.isNewline && !"()\\".contains($0) ? $0 : " " })
    }

    /// `data` with every `Authentication-Results` field that claims `authservID` removed (RFC 8601 §5: a
    /// sender must not be able to forge our verdicts), and `header` put first.
    public static func stamp(_ data: [UInt8], header: String, authservID: String) -> [UInt8] {
        var output = Array(header.utf8)
        output.reserveCapacity(data.count + output.count)
        let message = DKIMMessage.headerBlock(data)
        let claimed = authservID.lowercased()
        var kept = 0
        for field in message.fields where field.name == "authentication-results" {
            let value = String(decoding: field.raw.drop(while: { $0 != 0x3A }).dropFirst(), as: UTF8.self)
            let id = value.split(separator: ";", maxSplits: 1).first.map { Substring($0).trimmingWhitespace().split(separator: " ").first.map { $0.lowercased() } ?? "" } ?? ""
            guard id == claimed else { continue }
            output += data[kept..<field.raw.startIndex]
            kept = field.raw.endIndex
        }
        output += data[kept...]
        return output
    }
}

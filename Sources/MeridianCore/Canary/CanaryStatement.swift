import Foundation

/// A warrant canary: the codes the issuer asserts, when it asserted them and until when they hold. Its text is
/// what `/.well-known/canary.txt` serves and what the Ed25519 signature covers, byte for byte.
public struct CanaryStatement: Sendable, Hashable {
    public var sequence: Int
    /// Who states it: the controller of Regions/service.yaml.
    public var issuer: String
    /// The service zone, so that a canary cannot be passed off as another service's.
    public var domain: String
    public var issuedAt: Date
    public var expiresAt: Date
    public var asserted: [CanaryCode]

    public init(sequence: Int, issuer: String, domain: String, issuedAt: Date, expiresAt: Date, asserted: [CanaryCode]) {
        self.sequence = sequence
        self.issuer = issuer
        self.domain = domain
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.asserted = CanaryCode.allCases.filter(asserted.contains)
    }

    /// The codes no longer stated, in CanaryTail order.
    public var withheld: [CanaryCode] { CanaryCode.allCases.filter { !asserted.contains($0) } }

    public func isExpired(at date: Date) -> Bool { date >= expiresAt }

    /// The signed text: plain ASCII lines, each code on its own line, ending in a newline.
    public var text: String {
        var lines = [
            "Meridian warrant canary",
            "Issuer: \(issuer)",
            "Domain: \(domain)",
            "Sequence: \(sequence)",
            "Issued: \(ISOTime.string(issuedAt))",
            "Expires: \(ISOTime.string(expiresAt))",
            "",
            "As of the time issued, \(issuer) states:",
        ]
        lines += asserted.map { "  \($0.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \($0.statement)" }
        if !withheld.isEmpty {
            lines += ["", "No longer stated:"]
            lines += withheld.map { "  \($0.rawValue)" }
        }
        lines += [
            "",
            "If this canary is not renewed by the time it expires, or a statement above is missing, assume the worst.",
            "Verify: openssl pkeyutl -verify -pubin -inkey canary.pub -rawin -in canary.txt -sigfile canary.txt.sig",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads back a canary's text (for `meridian canary verify`); nil when it is not one.
    public init?(text: String) {
        var fields: [String: String] = [:]
        var asserted: [CanaryCode] = []
        var inStatements = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  "), inStatements {
                let code = line.dropFirst(2).prefix { $0 != " " }
                if let code = CanaryCode(rawValue: String(code)) { asserted.append(code) }
                continue
            }
            inStatements = line.hasPrefix("As of the time issued")
            if let colon = line.firstIndex(of: ":"), !line.hasPrefix(" ") {
                fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        guard text.hasPrefix("Meridian warrant canary\n"), let issuer = fields["Issuer"], let domain = fields["Domain"],
            let sequence = fields["Sequence"].flatMap({ Int($0) }), let issued = fields["Issued"].flatMap(ISOTime.date),
            let expires = fields["Expires"].flatMap(ISOTime.date)
        else { return nil }
        self.init(sequence: sequence, issuer: issuer, domain: domain, issuedAt: issued, expiresAt: expires, asserted: asserted)
    }

}

extension CalendarDay {
    /// The UTC day of `date`.
    public init(containing date: Date) {
        self = CalendarDay(String(ISOTime.string(date).prefix(10)))!
    }
}

/// A DMARC policy record (RFC 7489 §6.3), published as TXT at `_dmarc.domain`.
public struct DMARCRecord: Sendable, Equatable {
    public enum Policy: String, Sendable, Codable {
        case none, quarantine, reject
    }

    public enum Alignment: String, Sendable {
        /// Relaxed: the organizational domains match. Strict: the domains are the same.
        case relaxed = "r", strict = "s"
    }

    public var policy: Policy
    public var subdomainPolicy: Policy?
    public var dkimAlignment: Alignment
    public var spfAlignment: Alignment
    public var percent: Int

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func isDMARC(_ text: String) -> Bool {
        let trimmed = Substring(text).trimmingWhitespace()
        guard trimmed.hasPrefix("v=DMARC1") || trimmed.hasPrefix("v = DMARC1") else { return false }
        return (try? TagList(parsing: String(trimmed)))?.tags.first.map { $0.name == "v" && $0.value == "DMARC1" } ?? false
    }

    public init(parsing text: String) throws(SyntaxError) {
        let tags: TagList
        do { tags = try TagList(parsing: text) } catch { throw SyntaxError(description: error.description) }
        guard tags.tags.first?.name == "v", tags["v"] == "DMARC1" else { throw SyntaxError(description: "the record does not start with v=DMARC1") }
        guard let p = tags["p"], let policy = Policy(rawValue: p.lowercased()) else {
            throw SyntaxError(description: "p=\(tags["p"]?.prefix(20) ?? "") is not none, quarantine or reject")
        }
        self.policy = policy
        if let sp = tags["sp"] {
            guard let value = Policy(rawValue: sp.lowercased()) else { throw SyntaxError(description: "sp=\(sp.prefix(20)) is not a policy") }
            subdomainPolicy = value
        }
        func alignment(_ name: String) throws(SyntaxError) -> Alignment {
            guard let text = tags[name] else { return .relaxed }
            guard let value = Alignment(rawValue: text.lowercased()) else { throw SyntaxError(description: "\(name)=\(text.prefix(20)) is not r or s") }
            return value
        }
        dkimAlignment = try alignment("adkim")
        spfAlignment = try alignment("aspf")
        if let pct = tags["pct"] {
            guard pct.count <= 3, let value = Int(pct), (0...100).contains(value) else { throw SyntaxError(description: "pct=\(pct.prefix(20)) is not 0 to 100") }
            percent = value
        } else {
            percent = 100
        }
    }
}

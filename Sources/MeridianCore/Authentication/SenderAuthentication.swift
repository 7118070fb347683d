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

/// Runs the three checks for one message with one DNS budget.
public struct SenderAuthenticator: Sendable {
    let dns: any DNSLookup
    let suffixes: PublicSuffixList
    let now: @Sendable () -> Date
    /// DNS queries one message may cost, and how long its checks may take in all.
    public var queryBudget = 60
    public var timeBudget: Duration = .seconds(10)

    public init(dns: any DNSLookup, suffixes: PublicSuffixList, now: @escaping @Sendable () -> Date = Date.init) {
        self.dns = dns
        self.suffixes = suffixes
        self.now = now
    }

    public func authenticate(data: [UInt8], ip: IPAddress, sender: String, helo: String, fromFields: [[UInt8]]) async -> SenderAuthentication {
        let budget = BudgetedLookup(dns, queries: queryBudget, until: .now + timeBudget)
        async let spf = SPFCheck(dns: budget).check(ip: ip, sender: sender, helo: helo)
        async let dkim = DKIMVerifier(dns: budget, now: now).verify(data)
        let (spfResult, dkimResults) = await (spf, dkim)
        let dmarc = await DMARCCheck(dns: budget, suffixes: suffixes).check(fromFields: fromFields, spf: spfResult, dkim: dkimResults)
        return SenderAuthentication(spf: spfResult, dkim: dkimResults, dmarc: dmarc)
    }
}

/// A lookup that refuses once a message's budget of queries or time is spent.
final class BudgetedLookup: DNSLookup {
    let base: any DNSLookup
    let deadline: ContinuousClock.Instant
    private let remaining: Counter

    init(_ base: any DNSLookup, queries: Int, until deadline: ContinuousClock.Instant) {
        self.base = base
        self.deadline = deadline
        self.remaining = Counter(queries)
    }

    func lookup(_ name: String, _ type: DNSMessage.RecordType) async throws(DNSLookupError) -> DNSAnswer {
        guard await remaining.take() else { throw DNSLookupError(.budgetSpent, "the message's DNS query budget is spent") }
        let left = deadline - .now
        guard left > .zero else { throw DNSLookupError(.budgetSpent, "the message's DNS time budget is spent") }
        let base = self.base
        let result: Result<DNSAnswer, DNSLookupError> = await withTaskGroup(of: Result<DNSAnswer, DNSLookupError>?.self) { group in
            group.addTask {
                do throws(DNSLookupError) { return .success(try await base.lookup(name, type)) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: left)
                return Task.isCancelled ? nil : .failure(DNSLookupError(.budgetSpent, "the message's DNS time budget is spent"))
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(DNSLookupError(.budgetSpent, "the message's DNS time budget is spent"))
        }
        return try result.get()
    }

    actor Counter {
        var value: Int
        init(_ value: Int) { self.value = value }
        func take() -> Bool {
            guard value > 0 else { return false }
            value -= 1
            return true
        }
    }
}

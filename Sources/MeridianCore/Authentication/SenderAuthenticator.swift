import Foundation
import Synchronization

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

    /// Checks the message `data` that `ip` sent with MAIL FROM `sender` after saying HELO `helo`.
    public func authenticate(data: [UInt8], ip: IPAddress, sender: String, helo: String) async -> SenderAuthentication {
        let fromFields = DKIMMessage.headerBlock(data).fields.filter { $0.name == "from" }.map { Array($0.raw.drop(while: { $0 != 0x3A }).dropFirst()) }
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
        guard remaining.take() else { throw DNSLookupError(.budgetSpent, "the message's DNS query budget is spent") }
        let left = deadline - .now
        guard left > .zero else { throw DNSLookupError(.budgetSpent, "the message's DNS time budget is spent") }
        // Most lookups of a busy node find their answer in its cache: no query, so no timer and no tasks.
        if let cached = base.cachedAnswer(name, type) { return cached }
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

    final class Counter: Sendable {
        let value: Mutex<Int>
        init(_ value: Int) { self.value = Mutex(value) }
        func take() -> Bool {
            value.withLock { value in
                guard value > 0 else { return false }
                value -= 1
                return true
            }
        }
    }
}

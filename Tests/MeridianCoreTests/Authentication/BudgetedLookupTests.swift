import Synchronization
import Testing

@testable import MeridianCore

/// A lookup whose cache holds one name: asked for anything else, it counts a query and finds nothing.
final class OneCachedName: DNSLookup {
    let name: String
    let answer: DNSAnswer
    let queries = Mutex(0)

    init(_ name: String, _ answer: DNSAnswer) {
        self.name = name
        self.answer = answer
    }

    func lookup(_ name: String, _ type: DNSMessage.RecordType) async throws(DNSLookupError) -> DNSAnswer {
        queries.withLock { $0 += 1 }
        return .noSuchName
    }

    func cachedAnswer(_ name: String, _ type: DNSMessage.RecordType) -> DNSAnswer? {
        name == self.name && type == .txt ? answer : nil
    }
}

@Suite("A message's DNS budget")
struct BudgetedLookupTests {
    let spf = DNSAnswer(nameExists: true, records: [DNSMessage.Record(name: "sender.example", ttl: 300, data: .txt("v=spf1 -all"))])

    @Test func aCachedAnswerIsTakenWithoutAQueryAndStillCountsAgainstTheBudget() async throws {
        let base = OneCachedName("sender.example", spf)
        let budget = BudgetedLookup(base, queries: 3, until: .now + .seconds(10))
        #expect(try await budget.lookup("sender.example", .txt) == spf)
        #expect(try await budget.lookup("sender.example", .txt) == spf)
        #expect(base.queries.withLock { $0 } == 0)
        #expect(try await budget.lookup("other.example", .txt) == .noSuchName)
        #expect(base.queries.withLock { $0 } == 1)
        await #expect(throws: DNSLookupError.self) { try await budget.lookup("sender.example", .txt) }
    }

    @Test func nothingIsAnsweredOnceTheTimeIsSpent() async throws {
        let base = OneCachedName("sender.example", spf)
        let budget = BudgetedLookup(base, queries: 60, until: .now - .seconds(1))
        await #expect(throws: DNSLookupError.self) { try await budget.lookup("sender.example", .txt) }
        #expect(base.queries.withLock { $0 } == 0)
    }
}

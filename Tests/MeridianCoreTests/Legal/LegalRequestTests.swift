import MeridianCore
import Testing

@Suite("Legal requests: days and canary codes")
struct LegalRequestTests {
    @Test("calendar days are checked, leap years included, and order as dates")
    func days() {
        #expect(CalendarDay("2024-02-29")?.description == "2024-02-29")
        for bad in ["2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "2026-4-1", "26-04-01", "2026-04-31", "2026-04-01T00", ""] {
            #expect(CalendarDay(bad) == nil, "\(bad)")
        }
        #expect(CalendarDay("2000-02-29") != nil)
        #expect(CalendarDay("2026-01-31")! < CalendarDay("2026-02-01")!)
    }

    @Test("the kinds a canary speaks of carry its codes; the others none")
    func codes() {
        let codes = LegalRequestKind.allCases.compactMap(\.canaryCode?.rawValue)
        #expect(Set(codes) == ["WAR", "GAG", "SUBP", "TRAP", "CEASE", "RAID", "SEIZE", "XCRED", "XOPERS"])
        #expect(LegalRequestKind.preservationRequest.canaryCode == nil)
    }
}

import Crypto
import Foundation
import MeridianCore
import Testing

@Suite("Warrant canary statements")
struct CanaryStatementTests {
    static let issued = Date(timeIntervalSince1970: 1_795_000_000)

    static func statement(_ codes: [CanaryCode] = CanaryCode.allCases) -> CanaryStatement {
        CanaryStatement(
            sequence: 3, issuer: "Meridian Mail Ltd", domain: "meridian.example", issuedAt: issued, expiresAt: issued.addingTimeInterval(30 * 86_400),
            asserted: codes)
    }

    static func request(_ kind: LegalRequestKind, on day: String, gag: String? = nil) -> LegalRequest {
        LegalRequest(
            id: "lrq_\(kind.rawValue)", receivedOn: CalendarDay(day)!, authority: "A", country: "DE", kind: kind, accountsAffected: 1,
            outcome: .pending, gagUntil: gag.flatMap(CalendarDay.init), notes: nil, createdAt: issued, createdBy: "tok", updatedAt: issued)
    }

    @Test("the text names every stated code on its own line and reads back to the same statement")
    func roundTrip() throws {
        let statement = Self.statement([.warrants, .subpoenas, .duress])
        let text = statement.text
        #expect(text.hasPrefix("Meridian warrant canary\nIssuer: Meridian Mail Ltd\nDomain: meridian.example\nSequence: 3\n"))
        #expect(text.contains("Issued: 2026-11-18T11:06:40Z\nExpires: 2026-12-18T11:06:40Z\n") && text.contains("  WAR     We have not received any warrants.\n"))
        #expect(text.contains("No longer stated:\n  GAG\n"))
        #expect(CanaryStatement(text: text) == statement)
        #expect(CanaryStatement(text: "Hello\nIssuer: x\n") == nil)
        #expect(!statement.isExpired(at: Self.issued.addingTimeInterval(29 * 86_400)))
        #expect(statement.isExpired(at: Self.issued.addingTimeInterval(30 * 86_400)))
    }

    @Test("the log contradicts a code when it holds that kind of request, and GAG when any request came with a gag")
    func contradictions() {
        let log = [Self.request(.warrant, on: "2026-11-01"), Self.request(.courtOrder, on: "2026-10-01", gag: "2027-01-01"),
                   Self.request(.subpoena, on: "2026-12-01")]
        let found = CanaryContradiction.find(asserting: CanaryCode.allCases, log: log, on: CalendarDay("2026-11-17")!)
        #expect(Set(found.map(\.code)) == [.gagOrders, .warrants] && found.count == 2, "the subpoena arrives after the day and does not count yet")
        #expect(CanaryContradiction.find(asserting: [.subpoenas, .duress], log: log, on: CalendarDay("2026-11-17")!).isEmpty)
    }

    @Test("a signed canary verifies with the stock openssl CLI against the PEM public key")
    func opensslVerifies() throws {
        let key = Curve25519.Signing.PrivateKey()
        let text = Data(Self.statement().text.utf8)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("canary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try text.write(to: directory.appendingPathComponent("canary.txt"))
        try key.signature(for: text).write(to: directory.appendingPathComponent("canary.txt.sig"))
        try Data(Ed25519PEM.encode(key.publicKey).utf8).write(to: directory.appendingPathComponent("canary.pub"))
        func openssl(_ file: String) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = ["pkeyutl", "-verify", "-pubin", "-inkey", "canary.pub", "-rawin", "-in", file, "-sigfile", "canary.txt.sig"]
            process.currentDirectoryURL = directory
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(try openssl("canary.txt") == 0)
        try Data(Self.statement([.warrants]).text.utf8).write(to: directory.appendingPathComponent("changed.txt"))
        #expect(try openssl("changed.txt") != 0, "a changed text does not verify")
        #expect(Ed25519PEM.decode(Ed25519PEM.encode(key.publicKey))?.rawRepresentation == key.publicKey.rawRepresentation)
        #expect(Ed25519PEM.decode("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") == nil)
    }
}

@Suite("Sub-processors and reporting periods")
struct SubProcessorTests {
    static let now = Date(timeIntervalSince1970: 1_795_000_000)
    static let eu = RegionID("eu")!, us = RegionID("us")!

    static func entry(_ id: String, from: Double, until: Double? = nil, regions: [RegionID] = [eu]) -> SubProcessor {
        SubProcessor(
            id: id, name: id, legalEntity: id, purpose: "p", dataCategories: [], regions: regions, locations: [], transferMechanism: "",
            dpaInPlace: true, egressHosts: ["\(id).example"], steps: [.contentAnalysis], announcedAt: now.addingTimeInterval(-86_400 * 40),
            effectiveFrom: now.addingTimeInterval(from * 86_400), effectiveUntil: until.map { now.addingTimeInterval($0 * 86_400) })
    }

    @Test("an optional step is allowed only while every sub-processor serving it there is in force and not objected to")
    func allowedSteps() {
        let a = Self.entry("a", from: -1), b = Self.entry("b", from: 5), c = Self.entry("c", from: -10, until: -1)
        #expect(SubProcessor.allowedOptionalSteps([a, b, c], objectedTo: [], in: Self.eu, at: Self.now) == [.contentAnalysis])
        #expect(SubProcessor.allowedOptionalSteps([a], objectedTo: ["a"], in: Self.eu, at: Self.now).isEmpty)
        #expect(SubProcessor.allowedOptionalSteps([a], objectedTo: ["b"], in: Self.eu, at: Self.now) == [.contentAnalysis])
        #expect(SubProcessor.allowedOptionalSteps([a], objectedTo: [], in: Self.us, at: Self.now).isEmpty, "not in a region it does not cover")
        #expect(SubProcessor.allowedOptionalSteps([b, c], objectedTo: [], in: Self.eu, at: Self.now).isEmpty)
        #expect(b.state(at: Self.now) == .announced && a.state(at: Self.now) == .inForce && c.state(at: Self.now) == .retired)
        #expect(SubProcessor.nextChange([a, b, c], after: Self.now) == Self.now.addingTimeInterval(5 * 86_400))
    }

    @Test("a bundle may give a customer only optional steps that a sub-processor in the bundle serves")
    func bundleValidation() throws {
        let customer = NodeBundle.Customer(
            id: "cus_1", region: nil, domains: ["a.example"], webhook: .init(url: "https://h.example/", mode: .queued, secret: "whsec_" + Data(repeating: 1, count: 24).base64EncodedString()),
            steps: [.contentAnalysis])
        #expect(throws: CoreError(.bundleInvalid)) { try NodeBundle(version: 1, region: Self.eu, customers: [customer]).validate(expectedRegion: Self.eu) }
        let served = NodeBundle(
            version: 1, region: Self.eu, customers: [customer],
            subprocessors: [.init(id: "a", name: "A", steps: [.contentAnalysis], egressHosts: ["a.example"])])
        try served.validate(expectedRegion: Self.eu)
        let decoded = try NodeBundle.decode(Data(served.canonicalJSON()), expectedRegion: Self.eu)
        #expect(decoded == served)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try encoder.encode(served) == Data(served.canonicalJSON()), "the canonical writer still equals JSONEncoder")
    }

    @Test("half-years parse, bound and close")
    func periods() throws {
        let period = try #require(ReportingPeriod("2026-H1"))
        #expect(period.first.description == "2026-01-01" && period.last.description == "2026-06-30" && period.previous.description == "2025-H2")
        #expect(ReportingPeriod(containing: CalendarDay("2026-07-01")!).description == "2026-H2")
        // A day before the year 1000 (schemathesis sent one) made the period's first day unparsable: a crash.
        let early = ReportingPeriod(containing: CalendarDay("0999-07-01")!)
        #expect(early.description == "0999-H2" && early.first.description == "0999-07-01" && early.last.description == "0999-12-31")
        #expect(!period.isClosed(on: CalendarDay("2026-06-30")!) && period.isClosed(on: CalendarDay("2026-07-01")!))
        for bad in ["2026-H3", "2026H1", "26-H1", "2026-h1", ""] { #expect(ReportingPeriod(bad) == nil, "\(bad)") }
    }
}

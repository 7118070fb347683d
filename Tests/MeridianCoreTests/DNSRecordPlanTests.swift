import Testing

@testable import MeridianCore

@Suite("DNS records a customer must publish")
struct DNSRecordPlanTests {
    let catalog = try! RegionCatalog.load(directory: RegionCatalogTests.repositoryRegions)

    @Test func pinnedDomainsPointAtTheirRegion() {
        let plan = DNSRecordPlan(pin: RegionID("eu"), catalog: catalog, domains: [("b.example", "t2"), ("a.example", "t1")])
        #expect(plan.mxHost == "eu.mx.meridian.example")
        #expect(plan.records.map(\.name) == ["a.example", "_meridian.a.example", "b.example", "_meridian.b.example"])
        #expect(plan.records[0].value == "eu.mx.meridian.example" && plan.records[0].priority == 10)
        #expect(plan.records[1].value == "meridian-verification=t1")
    }

    @Test func unpinnedDomainsUseTheGlobalMX() {
        let plan = DNSRecordPlan(pin: nil, catalog: catalog, domains: [("a.example", "t")])
        #expect(plan.records.first?.value == "mx.meridian.example")
    }

    @Test func secretsSealAndOpenOnlyWithTheirKey() throws {
        let box = SecretBox(keyBytes: SecretBox.generateKeyBytes())!
        let other = SecretBox(keyBytes: SecretBox.generateKeyBytes())!
        let sealed = try box.seal("whsec_abc")
        #expect(!sealed.contains("whsec_abc"))
        #expect(try box.open(sealed) == "whsec_abc")
        #expect(throws: (any Error).self) { try other.open(sealed) }
    }
}

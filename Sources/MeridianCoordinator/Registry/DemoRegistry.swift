import Foundation
import MeridianCore

/// The sub-processors of the source policies' tables (../shared/seeds, CloudMailin), which `meridian up`
/// seeds into an empty registry, flagged as demo data.
///
/// AWS, Heroku and Crunchy Data are in CloudMailin's 2018 table as well as the current one, so they are seeded
/// in force. OpenAI appears only in the current table: it is seeded as just announced, so that a fresh
/// `meridian up` shows a notice period running, with the date it would take effect.
enum DemoRegistry {
    static func entries(at date: Date) -> [SubProcessor] {
        let since2018 = Date(timeIntervalSince1970: 1_527_206_400)  // 2018-05-25, when the GDPR applied
        let eu = RegionID("eu")!, us = RegionID("us")!, ap = RegionID("ap")!
        let sccs = "EU Standard Contractual Clauses (2021/914) and the UK Addendum"
        return [
            SubProcessor(
                id: "aws", name: "Amazon Web Services", legalEntity: "Amazon Web Services EMEA SARL",
                purpose: "Various services including servers, databases and storage", dataCategories: ["message content", "message metadata", "account data"],
                regions: [ap, eu, us], locations: ["USA", "EU", "AP"], transferMechanism: "Data stays in the customer's region; \(sccs) for support access",
                dpaInPlace: true, egressHosts: [], steps: [.hosting], announcedAt: since2018, effectiveFrom: since2018, demo: true),
            SubProcessor(
                id: "heroku", name: "Heroku (Salesforce)", legalEntity: "Salesforce, Inc.", purpose: "Management website",
                dataCategories: ["account data"], regions: [eu, us], locations: ["USA", "EU"], transferMechanism: sccs, dpaInPlace: true,
                egressHosts: [], steps: [.managementWebsite], announcedAt: since2018, effectiveFrom: since2018, demo: true),
            SubProcessor(
                id: "crunchy-data", name: "Crunchy Data", legalEntity: "Crunchy Data Solutions, Inc.", purpose: "Database",
                dataCategories: ["account data", "message metadata"], regions: [eu, us], locations: ["USA", "EU (data hosted in AWS)"],
                transferMechanism: sccs, dpaInPlace: true, egressHosts: [], steps: [.database], announcedAt: since2018, effectiveFrom: since2018,
                demo: true),
            SubProcessor(
                id: "openai", name: "OpenAI", legalEntity: "OpenAI, L.L.C.", purpose: "Analysis and content detection",
                dataCategories: ["message subject", "message text"], regions: [us], locations: ["USA"], transferMechanism: sccs, dpaInPlace: true,
                egressHosts: ["api.openai.com"], steps: [.contentAnalysis], announcedAt: date, effectiveFrom: date.addingTimeInterval(30 * 86_400),
                demo: true),
        ]
    }
}

import Foundation
import Testing

@testable import MeridianCore

@Suite("Regions/*.yaml loading and validation")
struct RegionCatalogTests {
    static let repositoryRegions = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Regions").path

    static let goodRegion = (try? String(contentsOfFile: repositoryRegions + "/eu.yaml", encoding: .utf8)) ?? ""

    @Test("the repository's Regions load with the policy defaults from DESIGN.md")
    func repositoryRegionsLoad() throws {
        let catalog = try RegionCatalog.load(directory: Self.repositoryRegions)
        #expect(catalog.regionIDs.map(\.rawValue) == ["ap", "eu", "us"])
        let eu = try #require(catalog.region(RegionID("eu")!))
        #expect(eu.mxHost == "eu.mx.meridian.example")
        #expect(eu.retention.messageMetadata == .days(60))
        #expect(eu.retention.deliveryLogs == .days(14))
        #expect(eu.retention.backups == .days(90))
        #expect(eu.retention.closedAccountPeriod == .days(395))
        #expect(eu.queue.messageLifetime == .days(5))
        #expect(eu.ipMasking.ipv4KeepOctets == 2 && eu.ipMasking.ipv6KeepHextets == 3)
        #expect(catalog.service.mxHost == "mx.meridian.example")
        #expect(catalog.mxHost(for: nil) == "mx.meridian.example")
    }

    @Test("an unknown key is an error naming the file and the key path")
    func unknownKey() {
        let yaml = Self.goodRegion.replacingOccurrences(of: "  backups: 90d", with: "  backups: 90d\n  backupz: 1d")
        #expect(throws: RegionConfigError(.unknownKey, file: "eu.yaml", key: "retention.backupz", "unknown key")) {
            try RegionCatalog.parseRegion(yaml, file: "eu.yaml")
        }
    }

    @Test("a missing field is an error naming the file and the key path")
    func missingField() throws {
        let yaml = Self.goodRegion.replacingOccurrences(of: "  message_lifetime: 5d\n", with: "")
        let error = try #require(throws: RegionConfigError.self) { try RegionCatalog.parseRegion(yaml, file: "eu.yaml") }
        #expect(error.code == .missingKey)
        #expect(error.key == "queue.message_lifetime")
        #expect(error.description.hasPrefix("eu.yaml: queue.message_lifetime:"))
    }

    @Test("a bad duration is an error naming the file, the key and the value", arguments: ["60 days", "60", "d", "-5d", "5mo", "0d"])
    func badDuration(value: String) throws {
        let yaml = Self.goodRegion.replacingOccurrences(of: "message_metadata: 60d", with: "message_metadata: \"\(value)\"")
        let error = try #require(throws: RegionConfigError.self) { try RegionCatalog.parseRegion(yaml, file: "eu.yaml") }
        #expect(error.code == .badDuration)
        #expect(error.key == "retention.message_metadata")
        #expect(error.description.contains("\"\(value)\""))
    }

    @Test("a region id must match its file name, and MX hosts must be distinct")
    func crossFileChecks() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("regions-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: Self.repositoryRegions + "/service.yaml", toPath: directory + "/service.yaml")
        try Self.goodRegion.write(toFile: directory + "/xx.yaml", atomically: true, encoding: .utf8)
        let error = try #require(throws: RegionConfigError.self) { try RegionCatalog.load(directory: directory) }
        #expect(error.key == "id" && error.file.hasSuffix("xx.yaml"))

        try FileManager.default.removeItem(atPath: directory + "/xx.yaml")
        try Self.goodRegion.write(toFile: directory + "/eu.yaml", atomically: true, encoding: .utf8)
        try Self.goodRegion.replacingOccurrences(of: "id: eu", with: "id: de").write(toFile: directory + "/de.yaml", atomically: true, encoding: .utf8)
        let clash = try #require(throws: RegionConfigError.self) { try RegionCatalog.load(directory: directory) }
        #expect(clash.key == "mx_host" && clash.code == .inconsistent)
    }

    @Test("not YAML at all is reported as such")
    func notYAML() throws {
        let error = try #require(throws: RegionConfigError.self) { try RegionCatalog.parseRegion("id: [unclosed", file: "eu.yaml") }
        #expect(error.code == .notYAML)
    }

    @Test("durations parse with their units and print in their shortest form")
    func durations() {
        #expect(PolicyDuration(parsing: "60d") == .days(60))
        #expect(PolicyDuration(parsing: "12h")?.seconds == 43_200)
        #expect(PolicyDuration(parsing: "7y") == .days(7 * 365))
        #expect(PolicyDuration(parsing: "2w")?.description == "2w")
        #expect(PolicyDuration(parsing: "90s")?.description == "90s")
        #expect(PolicyDuration(parsing: "99999999999999999y") == nil)
    }
}

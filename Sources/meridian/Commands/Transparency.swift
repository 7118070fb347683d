import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian transparency ...`: the half-yearly transparency reports.
struct Transparency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transparency", abstract: "List transparency reports and freeze a closed half-year's.", subcommands: [List.self, Freeze.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every half-year's report, newest first.")
        @OptionGroup var connection: APIConnection

        func run() async throws {
            let list = try await connection.withClient { try await $0.listTransparencyReports().ok.body.json }
            if connection.json { return try printJSON(list) }
            printTable(
                ["PERIOD", "STATUS", "REQUESTS", "ACCOUNTS", "BY KIND"],
                list.items.map {
                    [$0.period, $0.status.rawValue, "\($0.requests)", "\($0.accountsAffected)", $0.byKind.map { "\($0.key) \($0.count)" }.joined(separator: ", ")]
                })
        }
    }

    struct Freeze: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze and sign a closed half-year's report, such as 2026-H1.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The half-year, YYYY-H1 or YYYY-H2.") var period: String

        func run() async throws {
            let report = try await connection.withClient { try await $0.freezeTransparencyReport(body: .json(.init(period: period))).created.body.json }
            if connection.json { return try printJSON(report) }
            print("\(report.period): frozen and signed, \(report.requests) requests concerning \(report.accountsAffected) accounts")
        }
    }
}

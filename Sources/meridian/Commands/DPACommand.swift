import ArgumentParser
import Foundation
import Crypto
import MeridianAPI
import MeridianCore

/// `meridian dpa ...`: customers' data processing agreements and their annexes.
struct DPACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpa", abstract: "Record and show customers' DPAs; write a DPA's annex of sub-processors as HTML.",
        subcommands: [Record.self, Show.self, Annex.self])

    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a signed DPA; its annex is the registry as it stands now.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Option(help: "The agreement's version, such as 2026-05.") var version: String
        @Option(help: "The day it was signed, YYYY-MM-DD.") var signedOn: String
        @Option(help: "Who signed for the customer.") var signatory: String
        @Option(help: "The signed document; its SHA-256 is recorded (or pass --sha256).") var document: String?
        @Option(help: "Hex SHA-256 of the signed document.") var sha256: String?

        func run() async throws {
            let hash: String
            if let document {
                guard let data = FileManager.default.contents(atPath: document) else { throw ValidationError("--document \(document) cannot be read") }
                hash = SHA256.hash(data: data).hexString
            } else if let sha256 {
                hash = sha256
            } else {
                throw ValidationError("pass --document FILE or --sha256 HEX")
            }
            let body = Components.Schemas.DPACreate(version: version, signedOn: signedOn, signatory: signatory, documentSha256: hash)
            let dpa = try await connection.withClient {
                try await $0.recordDPA(path: .init(customerId: customer), body: .json(body)).created.body.json
            }
            if connection.json { return try printJSON(dpa) }
            print("\(dpa.id): DPA \(dpa.version) of \(dpa.customerId), signed \(dpa.signedOn) by \(dpa.signatory); annex: \(dpa.annex.map(\.id).joined(separator: ", "))")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The customer's DPA in force and the earlier ones.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String

        func run() async throws {
            let status = try await connection.withClient { try await $0.getDPA(path: .init(customerId: customer)).ok.body.json }
            if connection.json { return try printJSON(status) }
            if status.history.isEmpty { return print("\(customer) has no DPA on record") }
            printTable(
                ["ID", "VERSION", "SIGNED", "SIGNATORY", "SHA-256", "ANNEX"],
                status.history.map { [$0.id, $0.version, $0.signedOn, $0.signatory, String($0.documentSha256.prefix(16)) + "…", $0.annex.map(\.id).joined(separator: ",")] })
        }
    }

    struct Annex: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the annex of the DPA in force as an HTML document.")
        @OptionGroup var connection: APIConnection
        @Argument(help: "The customer id.") var customer: String
        @Option(name: .shortAndLong, help: "Write to this file (default: standard output).") var output: String?

        func run() async throws {
            let html = try await connection.withClient { client -> String in
                let body = try await client.getDPAAnnex(path: .init(customerId: customer)).ok.body.html
                return try await String(collecting: body, upTo: 4 << 20)
            }
            if let output {
                try Data(html.utf8).write(to: URL(fileURLWithPath: output))
                print("wrote \(output)")
            } else {
                print(html, terminator: "")
            }
        }
    }
}

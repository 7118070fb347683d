import ArgumentParser
import Crypto
import Foundation
import MeridianAPI
import MeridianCore

/// `meridian canary ...`: issue the warrant canary (dpo and admin) and verify a published one (anyone).
struct Canary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary", abstract: "Show, issue and verify the signed warrant canary.", subcommands: [Show.self, Issue.self, Verify.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The canary in force and the codes the legal-request log contradicts.")
        @OptionGroup var connection: APIConnection

        func run() async throws {
            let status = try await connection.withClient { try await $0.getCanary().ok.body.json }
            if connection.json { return try printJSON(status) }
            if let current = status.current {
                print("canary \(current.sequence): issued \(iso(current.issuedAt)), expires \(iso(current.expiresAt))\(current.expired ? " (EXPIRED)" : "")")
                print("stated: \(current.asserted.map(\.rawValue).joined(separator: " "))")
                if !current.withheld.isEmpty { print("no longer stated: \(current.withheld.map(\.rawValue).joined(separator: " "))") }
            } else {
                print("no canary has been issued")
            }
            for found in status.contradicted { print("the log contradicts \(found.code.rawValue): \(found.reason) (\(found.requestId))") }
        }
    }

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign and publish the next canary; refused if it would deny an event the legal-request log holds.")
        @OptionGroup var connection: APIConnection
        @Option(
            parsing: .upToNextOption,
            help: "Codes to state (\(Components.Schemas.CanaryCode.allCases.map(\.rawValue).joined(separator: " "))); default: those of the previous canary.")
        var codes: [Components.Schemas.CanaryCode] = []
        @Option(help: "Days until it expires (1-366).") var validDays = 30

        func run() async throws {
            let body = Components.Schemas.CanaryIssue(codes: codes.isEmpty ? nil : codes, validDays: validDays)
            let canary = try await connection.withClient { try await $0.issueCanary(body: .json(body)).created.body.json }
            if connection.json { return try printJSON(canary) }
            print(canary.text, terminator: "")
            print("published at \(connection.baseURL)/.well-known/canary.txt (expires \(iso(canary.expiresAt)))")
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a published canary: its Ed25519 signature against canary.pub, and that it has not expired.",
            discussion: "Reads canary.txt, canary.txt.sig and canary.pub from --dir (a directory, such as the .well-known of meridian publish) or from the coordinator's /.well-known/. Exits 1 when the signature fails or the canary has expired.")
        @Option(help: "The site to fetch /.well-known/canary.* from (default: $MERIDIAN_URL or http://127.0.0.1:8080).") var url: String?
        @Option(help: "A directory holding canary.txt, canary.txt.sig and canary.pub instead.") var dir: String?
        @Option(help: "A PEM public key to trust instead of the published canary.pub.") var key: String?

        func run() async throws {
            let text: Data, signature: Data, publicKey: Data
            if let dir {
                func read(_ name: String) throws -> Data {
                    guard let data = FileManager.default.contents(atPath: (dir as NSString).appendingPathComponent(name)) else {
                        throw ValidationError("\(dir)/\(name) cannot be read")
                    }
                    return data
                }
                (text, signature, publicKey) = (try read("canary.txt"), try read("canary.txt.sig"), try read("canary.pub"))
            } else {
                let base = publicSite(url)
                func fetch(_ name: String) async throws -> Data {
                    let response = try await fetchPublic("\(base)/.well-known/\(name)", limit: 1 << 20)
                    guard response.status == 200 else { throw CLIError("\(base)/.well-known/\(name) answered \(response.status)") }
                    return response.body
                }
                (text, signature, publicKey) = (try await fetch("canary.txt"), try await fetch("canary.txt.sig"), try await fetch("canary.pub"))
            }
            let pem = try key.map { path in
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--key \(path) cannot be read") }
                return data
            } ?? publicKey
            guard let trusted = Ed25519PEM.decode(String(decoding: pem, as: UTF8.self)) else {
                throw CLIError("the public key is not an Ed25519 PEM public key")
            }
            guard signature.count == 64, trusted.isValidSignature(signature, for: text) else {
                print("canary: BAD SIGNATURE: canary.txt was not signed by this key, or was changed after signing")
                throw ExitCode(1)
            }
            guard let statement = CanaryStatement(text: String(decoding: text, as: UTF8.self)) else {
                print("canary: the signature is good but canary.txt is not a Meridian canary")
                throw ExitCode(1)
            }
            print("canary \(statement.sequence) of \(statement.issuer) (\(statement.domain)): signature good")
            print("issued \(iso(statement.issuedAt)), expires \(iso(statement.expiresAt))")
            print("stated: \(statement.asserted.map(\.rawValue).joined(separator: " "))")
            if !statement.withheld.isEmpty { print("NO LONGER STATED: \(statement.withheld.map(\.rawValue).joined(separator: " "))") }
            if statement.isExpired(at: Date()) {
                print("canary: EXPIRED on \(iso(statement.expiresAt)); it was not renewed")
                throw ExitCode(1)
            }
        }
    }
}

extension Components.Schemas.CanaryCode: ExpressibleByArgument {}

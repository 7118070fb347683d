import ArgumentParser
import Foundation
import MeridianAPI
import MeridianCore
import MeridianServer
import X509

extension GDPR {
    struct VerifyReceipts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-receipts",
            abstract: "Check the receipts the nodes signed for a request: signature, signer and records, against the node CA.",
            discussion: """
                For each node that answered: the signature over its receipt, its certificate (issued by the node CA, \
                naming that node and region, valid when it signed), the request id, and for access the SHA-256 of the \
                records the coordinator keeps. Pin the node CA with --node-ca (the coordinator's DATA_DIR/node-ca.pem) \
                to trust nothing the coordinator says now; without it the CA the API returns is used. Exits 1 if any \
                receipt fails. Admin, dpo and auditor tokens.
                """)
        @OptionGroup var connection: APIConnection
        @Argument(help: "The ticket id (dsr_...).") var id: String
        @Option(help: "The node CA's certificate (PEM) to check against, instead of the one the coordinator sends.")
        var nodeCA: String?

        func run() async throws {
            let receipts = try await connection.withClient { try await $0.getGdprReceipts(path: .init(requestId: id)).ok.body.json }
            if connection.json { try printJSON(receipts) }
            let pem: String
            if let nodeCA {
                do {
                    pem = try String(contentsOfFile: nodeCA, encoding: .utf8)
                } catch {
                    throw CLIError("cannot read --node-ca \(nodeCA): \(error.localizedDescription)")
                }
            } else {
                pem = receipts.nodeCa
            }
            let issuer: Certificate
            do {
                issuer = try Certificate(pemEncoded: pem)
            } catch {
                throw CLIError("\(nodeCA ?? "the node CA the coordinator sent") is not a PEM certificate")
            }
            var failed = 0
            var rows: [[String]] = []
            for receipt in receipts.receipts {
                let outcome = Self.check(receipt, request: id, zone: receipts.zone, issuer: issuer)
                if case .failed = outcome { failed += 1 }
                rows.append([receipt.region, receipt.place, outcome.text, receipt.signedBy ?? "-"])
            }
            if !connection.json {
                printTable(["REGION", "PLACE", "RECEIPT", "SIGNED BY"], rows)
                print(
                    failed == 0
                        ? "\(receipts.receipts.filter { $0.statement != nil }.count) signed receipts verify against the node CA \(issuer.fingerprint.prefix(16))…"
                        : "\(failed) receipt\(failed == 1 ? "" : "s") FAILED")
            }
            if failed > 0 { throw ExitCode(1) }
        }

        enum Outcome {
            case verified, unsigned, failed(String)
            var text: String {
                switch self {
                case .verified: "verified"
                case .unsigned: "unsigned (the coordinator's own part)"
                case .failed(let reason): "FAILED: " + reason
                }
            }
        }

        static func check(_ receipt: Components.Schemas.GdprReceipt, request: String, zone: String, issuer: Certificate) -> Outcome {
            guard let statement = receipt.statement, let signature = receipt.signature, let certificate = receipt.certificate else {
                return receipt.place == "coordinator" ? .unsigned : .failed("a node's answer without a signed receipt")
            }
            let signed = NodeSigned(statement: statement, signature: signature, certificate: certificate)
            do {
                let statement = try signed.decode(DirectiveReceipt.self)
                guard let region = RegionID(receipt.region) else { return .failed("\(receipt.region) is not a region id") }
                try signed.verify(issuer: issuer, signer: .node(zone: zone, region: region, id: receipt.place), at: statement.completedAt)
                guard statement.requestID == request, statement.region == receipt.region, statement.node == receipt.place else {
                    return .failed("signed for \(statement.requestID) by \(statement.region)/\(statement.node)")
                }
                guard statement.dataSHA256 == receipt.dataSha256 else {
                    return .failed("the records kept are not those the node signed for (SHA-256 differs)")
                }
                let counts = statement.classes.map { [$0.dataClass, "\($0.found)", "\($0.erased)", "\($0.held)"] }
                let shown = receipt.classes.map { [$0.dataClass, "\($0.found)", "\($0.erased)", "\($0.held)"] }
                guard counts == shown else { return .failed("the counts shown are not those the node signed") }
                return .verified
            } catch {
                return .failed(error.reason)
            }
        }
    }
}

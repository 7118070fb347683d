import Foundation
import MeridianCore

/// Spam and virus scanning inside the SMTP transaction, with the engines that run beside the node in the
/// region (rspamd and clamd): both at once, each bounded by its timeout. A scanner that is missing says
/// `not_run`; one that fails says `failed` with the reason, and the customer's policy decides whether the
/// message waits for it (`451`) or goes on. When the message carries a virus, each attachment is scanned too,
/// so the payload can say which.
public struct ContentScanStep: Sendable {
    let rspamd: RspamdClient?
    let clamd: ClamdClient?
    let metrics: NodeMetrics

    public init(rspamd: RspamdClient?, clamd: ClamdClient?, metrics: NodeMetrics) {
        self.rspamd = rspamd
        self.clamd = clamd
        self.metrics = metrics
    }

    var runs: Bool { rspamd != nil || clamd != nil }

    func run(_ data: [UInt8], transaction: SMTPTransaction, queueID: String, message: MIMEMessage) async -> ContentScan {
        async let spam = spamScan(data, transaction: transaction, queueID: queueID)
        async let virus = virusScan(data, message: message)
        return ContentScan(spam: await spam, virus: await virus)
    }

    private func spamScan(_ data: [UInt8], transaction: SMTPTransaction, queueID: String) async -> SpamScan {
        guard let rspamd else { return .notRun }
        let start = ContinuousClock.now
        let scan = await rspamd.check(data, transaction: transaction, queueID: queueID)
        metrics.scan(scanner: "rspamd", result: scan.status.rawValue, duration: ContinuousClock.now - start)
        return scan
    }

    private func virusScan(_ data: [UInt8], message: MIMEMessage) async -> VirusScan {
        guard let clamd else { return .notRun }
        let start = ContinuousClock.now
        var scan: VirusScan
        do {
            if let virus = try await clamd.scan(data[...]) {
                scan = VirusScan(status: .infected, viruses: [virus])
                let attachments = MessageContent(message).attachments
                if !attachments.isEmpty {
                    var found: [String?] = []
                    for attachment in attachments { found.append(try? await clamd.scan(attachment.decodedBytes[...])) }
                    scan.attachments = found
                    scan.viruses = Array(Set([virus] + found.compactMap { $0 })).sorted()
                }
            } else {
                scan = .clean
            }
        } catch {
            scan = .failed("\(error)")
        }
        metrics.scan(scanner: "clamd", result: scan.status.rawValue, duration: ContinuousClock.now - start)
        return scan
    }
}

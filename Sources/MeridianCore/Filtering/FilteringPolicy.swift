import Foundation

/// What a customer wants done with spam, viruses, mail that fails DMARC under `p=reject`, and messages whose
/// scan failed. The node applies it inside the SMTP transaction, so a refusal is a `550 5.7.1` before the
/// `250` and never needs a bounce. Absent from a bundle means ``standard``.
public struct FilteringPolicy: Sendable, Hashable, Codable {
    public enum SpamMode: String, Sendable, Hashable, Codable, CaseIterable {
        /// Deliver, with `envelope.spamd.spam` saying whether the score reached the threshold.
        case mark
        /// Refuse at the score threshold (`550 5.7.1`).
        case reject
        /// Accept at the threshold and hold it in the region's quarantine until released, deleted or expired.
        case quarantine
    }

    public enum VirusMode: String, Sendable, Hashable, Codable, CaseIterable {
        /// Refuse a message carrying a virus (`550 5.7.1`).
        case reject
        /// Deliver it, with `envelope.virus` and each attachment's `scan` saying what was found.
        case mark
        /// Accept it and hold it in the region's quarantine.
        case quarantine
    }

    public enum ScannerFailure: String, Sendable, Hashable, Codable, CaseIterable {
        /// Deliver without the verdict; the payload says the scan `failed` and why.
        case pass
        /// Ask the sender to try again later (`451 4.7.0`), so nothing arrives unscanned.
        case `defer`
    }

    public var spamMode: SpamMode
    /// The spam score at and above which a message is spam (rspamd's score).
    public var spamThreshold: Double
    public var virusMode: VirusMode
    /// Refuse mail that fails DMARC when its domain publishes `p=reject`.
    public var rejectDMARCFailures: Bool
    public var onScannerFailure: ScannerFailure

    public static let standard = FilteringPolicy(spamMode: .mark, spamThreshold: 6, virusMode: .reject, rejectDMARCFailures: false, onScannerFailure: .pass)
    public static let thresholdRange: ClosedRange<Double> = -100...1000

    public init(spamMode: SpamMode, spamThreshold: Double, virusMode: VirusMode, rejectDMARCFailures: Bool, onScannerFailure: ScannerFailure) {
        self.spamMode = spamMode
        self.spamThreshold = spamThreshold
        self.virusMode = virusMode
        self.rejectDMARCFailures = rejectDMARCFailures
        self.onScannerFailure = onScannerFailure
    }

    enum CodingKeys: String, CodingKey {
        case spamMode = "spam_mode", spamThreshold = "spam_threshold", virusMode = "virus_mode"
        case rejectDMARCFailures = "reject_dmarc_failures", onScannerFailure = "on_scanner_failure"
    }

    /// What the node does with a message for this customer.
    public enum Decision: Sendable, Equatable {
        case deliver
        /// `550 5.7.1` with the reason.
        case reject(String)
        /// `451 4.7.0` with the reason.
        case `defer`(String)
        /// `250`, then held in the quarantine with the reason.
        case quarantine(String)
    }

    public func decide(scan: ContentScan?, authentication: SenderAuthentication?) -> Decision {
        if let scan {
            if scan.virus.status == .infected, virusMode != .mark {
                let reason = "the message carries a virus (\(scan.virus.viruses.first ?? "unnamed"))"
                return virusMode == .reject ? .reject(reason) : .quarantine(reason)
            }
            if scan.failed, onScannerFailure == .defer {
                return .defer("the message could not be scanned now; please try again later")
            }
            if isSpam(scan.spam), spamMode == .reject {
                return .reject("the message was refused as spam")
            }
            if isSpam(scan.spam), spamMode == .quarantine {
                return .quarantine("spam score \(scan.spam.score ?? 0) at or above \(spamThreshold)")
            }
        }
        if rejectDMARCFailures, let dmarc = authentication?.dmarc, dmarc.failsRejectPolicy {
            return .reject("the message fails DMARC for \(dmarc.fromDomain), whose owner asks for such mail to be refused")
        }
        return .deliver
    }

    /// Whether the spam score reached this customer's threshold.
    public func isSpam(_ spam: SpamScan) -> Bool {
        guard spam.status == .scanned, let score = spam.score else { return false }
        return score >= spamThreshold
    }

    /// The customer's own fields, checked where they come in (API) and where they arrive (bundles).
    public func validate() throws(CoreError) {
        guard spamThreshold.isFinite, Self.thresholdRange.contains(spamThreshold) else {
            throw CoreError(.bundleInvalid, "spam_threshold \(spamThreshold) is not from -100 to 1000")
        }
    }
}

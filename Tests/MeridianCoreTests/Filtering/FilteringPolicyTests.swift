import MeridianCore
import Testing

@Suite("Filtering: scanner answers and the customer's policy")
struct FilteringPolicyTests {
    static func spam(_ score: Double) -> SpamScan { SpamScan(status: .scanned, score: score, requiredScore: 15, action: "no action") }

    @Test("rspamd's /checkv2 answer gives the score, action and symbols, highest first; anything else is failed")
    func rspamdAnswer() {
        let answer = #"{"is_skipped":false,"score":7.25,"required_score":15.0,"action":"add header","symbols":{"A":{"name":"A","score":0.5},"B":{"name":"B","score":-3.0},"C":{"name":"C","score":4.0}}}"#
        let scan = SpamScan(rspamdAnswer: Array(answer.utf8))
        #expect(scan.status == .scanned && scan.score == 7.25 && scan.requiredScore == 15 && scan.action == "add header")
        #expect(scan.symbols.map(\.name) == ["C", "B", "A"])
        for garbage in ["", "not json", "[]", #"{"score":"high"}"#, #"{"symbols":{}}"#] {
            let failed = SpamScan(rspamdAnswer: Array(garbage.utf8))
            #expect(failed.status == .failed && failed.reason != nil, "\(garbage)")
        }
    }

    @Test("clamd's replies: OK, a named virus, and anything else an error naming what came back")
    func clamdReplies() throws {
        #expect(try VirusScan.clamdVerdict("stream: OK\0").get() == nil)
        #expect(try VirusScan.clamdVerdict("stream: Win.Test.EICAR_HDB-1 FOUND\0").get() == "Win.Test.EICAR_HDB-1")
        for reply in ["INSTREAM size limit exceeded. ERROR", "stream:  FOUND", "", "garbage"] {
            guard case .failure(let error) = VirusScan.clamdVerdict(reply) else {
                Issue.record("\(reply) was taken as a verdict")
                continue
            }
            #expect(error.description.contains("virus scanner answered"))
        }
    }

    @Test("the standard policy marks spam, refuses viruses and lets scanner failures pass")
    func standard() {
        let policy = FilteringPolicy.standard
        #expect(policy.decide(scan: ContentScan(spam: Self.spam(50), virus: .clean), authentication: nil) == .deliver)
        #expect(policy.isSpam(Self.spam(6)) && !policy.isSpam(Self.spam(5.9)))
        let infected = ContentScan(spam: .notRun, virus: VirusScan(status: .infected, viruses: ["Eicar"]))
        #expect(policy.decide(scan: infected, authentication: nil) == .reject("the message carries a virus (Eicar)"))
        #expect(policy.decide(scan: ContentScan(spam: .failed("down"), virus: .failed("down")), authentication: nil) == .deliver)
        #expect(policy.decide(scan: nil, authentication: nil) == .deliver)
    }

    @Test("reject at the threshold, defer when a scanner failed, refuse DMARC failures under p=reject only")
    func choices() {
        var policy = FilteringPolicy.standard
        policy.spamMode = .reject
        policy.spamThreshold = 10
        policy.onScannerFailure = .defer
        policy.rejectDMARCFailures = true
        #expect(policy.decide(scan: ContentScan(spam: Self.spam(9.9), virus: .clean), authentication: nil) == .deliver)
        #expect(policy.decide(scan: ContentScan(spam: Self.spam(10), virus: .clean), authentication: nil) == .reject("the message was refused as spam"))
        guard case .defer = policy.decide(scan: ContentScan(spam: .failed("slow"), virus: .clean), authentication: nil) else {
            Issue.record("a failed scan must defer under on_scanner_failure=defer")
            return
        }
        func auth(_ result: DMARCResult.Kind, _ p: DMARCRecord.Policy) -> SenderAuthentication {
            SenderAuthentication(spf: SPFResult(.fail, domain: "x.example"), dkim: [], dmarc: DMARCResult(result, fromDomain: "x.example", policy: p))
        }
        guard case .reject = policy.decide(scan: nil, authentication: auth(.fail, .reject)) else {
            Issue.record("DMARC fail under p=reject must be refused")
            return
        }
        #expect(policy.decide(scan: nil, authentication: auth(.fail, .quarantine)) == .deliver)
        #expect(policy.decide(scan: nil, authentication: auth(.pass, .reject)) == .deliver)
        policy.spamThreshold = .infinity
        #expect(throws: CoreError.self) { try policy.validate() }
    }
}

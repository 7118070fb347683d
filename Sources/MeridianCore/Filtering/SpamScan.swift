import Foundation

/// What the spam scanner (rspamd, in the region) said about a message: its score, the score its own
/// configuration calls spam, its suggested action and the symbols that matched. The customer's policy
/// (``FilteringPolicy``) decides what happens; the payload carries it as `envelope.spamd`.
public struct SpamScan: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case scanned
        /// The scanner was asked and did not answer usefully (down, slow, garbage): see `reason`.
        case failed
        /// The node has no spam scanner.
        case notRun = "not_run"
    }

    public struct Symbol: Sendable, Hashable, Codable {
        public var name: String
        public var score: Double
    }

    public var status: Status
    public var score: Double?
    public var requiredScore: Double?
    /// rspamd's suggested action: `no action`, `greylist`, `add header`, `rewrite subject`, `soft reject`, `reject`.
    public var action: String?
    /// The matched symbols with a score, highest first (at most ``symbolLimit``).
    public var symbols: [Symbol]
    public var reason: String?

    static let symbolLimit = 50

    enum CodingKeys: String, CodingKey {
        case status, score, requiredScore = "required_score", action, symbols, reason
    }

    public init(status: Status, score: Double? = nil, requiredScore: Double? = nil, action: String? = nil, symbols: [Symbol] = [], reason: String? = nil) {
        self.status = status
        self.score = score
        self.requiredScore = requiredScore
        self.action = action
        self.symbols = symbols
        self.reason = reason
    }

    public static let notRun = SpamScan(status: .notRun)

    public static func failed(_ reason: String) -> SpamScan { SpamScan(status: .failed, reason: reason) }

    /// Reads rspamd's `/checkv2` answer; a body that is not one gives `failed`.
    public init(rspamdAnswer body: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let score = (object["score"] as? NSNumber)?.doubleValue, score.isFinite
        else {
            self = .failed("the spam scanner's answer is not rspamd's JSON")
            return
        }
        var symbols: [Symbol] = []
        for (name, value) in object["symbols"] as? [String: Any] ?? [:] {
            let entry = value as? [String: Any]
            let symbolScore = (entry?["score"] as? NSNumber)?.doubleValue ?? 0
            guard symbolScore.isFinite else { continue }
            symbols.append(Symbol(name: String(name.prefix(100)), score: symbolScore))
        }
        symbols.sort { abs($0.score) != abs($1.score) ? abs($0.score) > abs($1.score) : $0.name < $1.name }
        self.init(
            status: .scanned, score: score, requiredScore: (object["required_score"] as? NSNumber)?.doubleValue,
            action: (object["action"] as? String).map { String($0.prefix(40)) }, symbols: Array(symbols.prefix(Self.symbolLimit)))
    }
}

/// What the virus scanner (clamd, in the region) found in a message and in each attachment. The payload
/// carries it as `envelope.virus` and per attachment as `scan` (CloudMailin's attachment field).
public struct VirusScan: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case clean, infected, failed
        case notRun = "not_run"
    }

    public var status: Status
    /// The signatures that matched, as clamd names them.
    public var viruses: [String]
    /// For an infected message with attachments: the virus found in each attachment by index, nil for clean ones.
    public var attachments: [String?]?
    public var reason: String?

    public init(status: Status, viruses: [String] = [], attachments: [String?]? = nil, reason: String? = nil) {
        self.status = status
        self.viruses = viruses
        self.attachments = attachments
        self.reason = reason
    }

    public static let notRun = VirusScan(status: .notRun)
    public static let clean = VirusScan(status: .clean)

    public static func failed(_ reason: String) -> VirusScan { VirusScan(status: .failed, reason: reason) }

    /// clamd's reply to INSTREAM: `stream: OK`, `stream: NAME FOUND` or `... ERROR`; nil for the virus name
    /// when clean. Anything else is an error naming what came back.
    public static func clamdVerdict(_ reply: String) -> Result<String?, ClamdReplyError> {
        let text = reply.trimmingCharacters(in: CharacterSet(charactersIn: "\0\n\r "))
        guard let colon = text.range(of: ": ") else { return .failure(ClamdReplyError(reply: text)) }
        let verdict = text[colon.upperBound...]
        if verdict == "OK" { return .success(nil) }
        if verdict.hasSuffix(" FOUND") {
            let name = verdict.dropLast(" FOUND".count)
            guard !name.isEmpty else { return .failure(ClamdReplyError(reply: text)) }
            return .success(String(name.prefix(200)))
        }
        return .failure(ClamdReplyError(reply: text))
    }

    public struct ClamdReplyError: Error, Sendable, CustomStringConvertible {
        public var reply: String
        public var description: String { "the virus scanner answered \(reply.prefix(120).debugDescription)" }
    }
}

/// Both scans of one message.
public struct ContentScan: Sendable, Hashable, Codable {
    public var spam: SpamScan
    public var virus: VirusScan

    public init(spam: SpamScan, virus: VirusScan) {
        self.spam = spam
        self.virus = virus
    }

    public static let notRun = ContentScan(spam: .notRun, virus: .notRun)

    /// Whether either scanner was asked and failed.
    public var failed: Bool { spam.status == .failed || virus.status == .failed }
}

/// Asks DNS for one name and type. The node's stub resolver does it over UDP and TCP; tests may answer from a
/// table. Sender authentication (SPF, DKIM, DMARC) sees DNS only through this.
public protocol DNSLookup: Sendable {
    /// The records of `type` at `name`. A name that does not exist (NXDOMAIN) or has no such records is an
    /// answer, not an error; an error is a lookup that could not be answered (RFC 7208's `temperror`).
    func lookup(_ name: String, _ type: DNSMessage.RecordType) async throws(DNSLookupError) -> DNSAnswer

    /// The answer a caching lookup holds for `name` and `type` now, without asking anyone; nil when it holds
    /// none (and always, for one that does not cache). A message's checks take it without a query's timer.
    func cachedAnswer(_ name: String, _ type: DNSMessage.RecordType) -> DNSAnswer?
}

extension DNSLookup {
    public func cachedAnswer(_ name: String, _ type: DNSMessage.RecordType) -> DNSAnswer? { nil }
}

/// What a lookup found.
public struct DNSAnswer: Sendable, Equatable {
    /// False when the server answered NXDOMAIN.
    public var nameExists: Bool
    public var records: [DNSMessage.Record]

    public init(nameExists: Bool, records: [DNSMessage.Record]) {
        self.nameExists = nameExists
        self.records = records
    }

    public static let noSuchName = DNSAnswer(nameExists: false, records: [])

    public var addresses: [IPAddress] { records.addresses }
    /// TXT answers, each record's strings joined.
    public var txt: [String] { records.txt }
    /// MX answers, lowest preference first.
    public var mx: [DNSMessage.MX] { records.mx }
    /// CNAME and PTR targets.
    public var names: [String] { records.names }
}

/// What a set of answer records holds, by type: for a ``DNSAnswer`` and for a parsed ``DNSMessage/Response``.
extension Array where Element == DNSMessage.Record {
    public var addresses: [IPAddress] {
        compactMap { if case .address(let address) = $0.data { address } else { nil } }
    }

    public var txt: [String] {
        compactMap { if case .txt(let text) = $0.data { text } else { nil } }
    }

    public var mx: [DNSMessage.MX] {
        compactMap { if case .mx(let mx) = $0.data { mx } else { nil } }.sorted { ($0.preference, $0.host) < ($1.preference, $1.host) }
    }

    public var names: [String] {
        compactMap { if case .name(let name) = $0.data { name } else { nil } }
    }
}

/// Why a lookup has no answer.
public struct DNSLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No server answered in time.
        case timeout
        /// The server answered SERVFAIL, REFUSED or another failure code.
        case serverFailure
        /// The answer could not be parsed, or did not match the question.
        case malformed
        /// The message's DNS budget (queries or time) is spent.
        case budgetSpent
        /// The name is not a valid domain name, so it was never asked.
        case invalidName
    }

    public var code: Code
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }

    public static func == (lhs: DNSLookupError, rhs: DNSLookupError) -> Bool { lhs.code == rhs.code }
}

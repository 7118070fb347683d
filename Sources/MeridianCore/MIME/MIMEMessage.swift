/// A parsed Internet message (RFC 5322 with MIME, RFC 2045-2049).
///
/// Parsing never fails and never recurses without bound: every input gives a message, the work is linear in
/// the input size (times the nesting limit), and what had to be guessed is in ``flags``.
public struct MIMEMessage: Sendable {
    public let raw: [UInt8]
    public let root: MIMEPart
    public let flags: Set<MIMEFlag>

    /// Multiparts nested deeper than this are kept whole, as attachments.
    public static let maximumDepth = 16

    public var headers: [MIMEHeaderField] { root.headers }

    public init(parsing raw: [UInt8]) {
        self.raw = raw
        var flags: Set<MIMEFlag> = []
        let root = MIMEParser.parsePart(raw, range: 0..<raw.count, depth: 0, flags: &flags)
        if root.headers.first(named: "From") == nil { flags.insert(.missingFrom) }
        if root.headers.first(named: "Date") == nil { flags.insert(.missingDate) }
        if root.headers.first(named: "Message-ID") == nil { flags.insert(.missingMessageID) }
        self.root = root
        self.flags = flags
    }
}

/// One SMTP reply: an RFC 5321 code, an RFC 3463 enhanced status code and one or more lines of text.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    /// The enhanced status code (`class.subject.detail`, e.g. `5.1.1`); absent only on the greeting and EHLO.
    public var enhancedCode: String?
    public var lines: [String]

    public init(_ code: Int, _ enhancedCode: String?, _ lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhancedCode: String?, _ text: String) {
        self.init(code, enhancedCode, [text])
    }

    /// The reply as sent on the wire: `250-first` ... `250 last`, each line ending in CRLF.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            var text = "\(code)\(separator)"
            if let enhancedCode { text += "\(enhancedCode) " }
            text += line
            bytes += text.utf8
            bytes += [0x0D, 0x0A]
        }
        return bytes
    }

    public var description: String { String(decoding: encoded, as: UTF8.self) }
}

// MARK: - Replies the session sends

extension SMTPReply {
    static func ok(_ text: String = "OK") -> SMTPReply { SMTPReply(250, "2.0.0", text) }
    static let closing = SMTPReply(221, "2.0.0", "Bye")
    static func badSequence(_ text: String) -> SMTPReply { SMTPReply(503, "5.5.1", text) }
    static let unrecognised = SMTPReply(500, "5.5.1", "Command not recognised")
    static let lineTooLong = SMTPReply(500, "5.5.2", "Command line too long (the limit is 512 octets, RFC 5321 section 4.5.3.1.4)")
    static let bareLineFeedInCommand = SMTPReply(500, "5.5.2", "Command lines must end in CRLF, not a bare LF")
    static let tooManyErrors = SMTPReply(421, "4.7.0", "Too many errors; closing the connection")
    /// Sent by the transport when a client stays silent longer than the command timeout.
    public static let idleTimeout = SMTPReply(421, "4.4.2", "Idle timeout; closing the connection")
    public static let commandTimeout = SMTPReply(421, "4.4.2", "Command line not completed in time; closing the connection")
    /// Sent by the transport when message data arrives slower than the server's floor rate.
    public static let dataTooSlow = SMTPReply(421, "4.4.2", "Message data arriving too slowly; closing the connection")
    /// Sent by the transport when it shuts down between transactions.
    public static let shuttingDown = SMTPReply(421, "4.3.2", "Service shutting down; try again later")
}

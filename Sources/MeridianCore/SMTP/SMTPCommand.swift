import Foundation

/// A command line from an SMTP client, parsed (RFC 5321 section 4.1, with RFC 1870 SIZE, RFC 6152 8BITMIME,
/// RFC 6531 SMTPUTF8, RFC 3207 STARTTLS and RFC 3030 CHUNKING).
public enum SMTPCommand: Sendable, Hashable {
    case hello(domain: String, extended: Bool)
    case mail(from: SMTPMailbox?, parameters: MailParameters)
    case recipient(to: RecipientPath)
    case data
    case bdat(size: Int, last: Bool)
    case reset
    case noop
    case quit
    case verify
    case expand
    case help
    case startTLS

    /// What `RCPT TO` names: a mailbox, or the bare `<Postmaster>` every server must accept (RFC 5321 4.5.1).
    public enum RecipientPath: Sendable, Hashable {
        case mailbox(SMTPMailbox)
        case postmaster
    }

    public struct MailParameters: Sendable, Hashable {
        /// The size the client declared with `SIZE=` (RFC 1870).
        public var size: Int?
        public var body: BodyType = .sevenBit
        /// `SMTPUTF8`: the addresses and headers may hold UTF-8 (RFC 6531).
        public var smtpUTF8 = false

        public init() {}
    }

    public enum BodyType: String, Sendable, Hashable {
        case sevenBit = "7BIT"
        case eightBitMIME = "8BITMIME"
    }

    /// Parses one command line without its CRLF. Errors carry the reply to send.
    public static func parse(_ line: ArraySlice<UInt8>) throws(SMTPCommandError) -> SMTPCommand {
        var reader = ByteReader(line)
        var verb: [UInt8] = []
        while let byte = reader.peek, byte != 0x20 {
            verb.append(asciiUppercase(byte))
            _ = reader.consume(byte)
            if verb.count > 8 { throw SMTPCommandError(.unrecognised) }
        }
        let hasArgument = reader.consume(0x20)
        switch String(decoding: verb, as: UTF8.self) {
        case "EHLO", "HELO":
            reader.skipSpaces()
            let domain = String(decoding: reader.rest, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard !domain.isEmpty else {
                throw SMTPCommandError(SMTPReply(501, "5.5.4", "\(verb == Array("EHLO".utf8) ? "EHLO" : "HELO") needs your domain name"))
            }
            return .hello(domain: domain, extended: verb == Array("EHLO".utf8))
        case "MAIL":
            guard reader.consumeCaseInsensitive("FROM:") else {
                throw SMTPCommandError(SMTPReply(501, "5.5.4", "Syntax: MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]"))
            }
            reader.skipSpaces()
            let from: SMTPMailbox?
            do { from = try reader.path(allowNull: true) } catch {
                throw SMTPCommandError(SMTPReply(501, "5.1.7", "Bad sender address: \(error.detail)"))
            }
            return .mail(from: from, parameters: try mailParameters(reader.rest))
        case "RCPT":
            guard reader.consumeCaseInsensitive("TO:") else {
                throw SMTPCommandError(SMTPReply(501, "5.5.4", "Syntax: RCPT TO:<address>"))
            }
            reader.skipSpaces()
            var probe = reader
            if probe.consumeCaseInsensitive("<postmaster>") {
                reader = probe
                try noParameters(reader.rest, command: "RCPT TO")
                return .recipient(to: .postmaster)
            }
            let to: SMTPMailbox?
            do { to = try reader.path(allowNull: false) } catch {
                throw SMTPCommandError(SMTPReply(501, "5.1.3", "Bad recipient address: \(error.detail)"))
            }
            try noParameters(reader.rest, command: "RCPT TO")
            return .recipient(to: .mailbox(to!))
        case "BDAT":
            let words = reader.rest.split(separator: 0x20)
            guard (1...2).contains(words.count), words[0].count <= 10, words[0].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let size = Int(String(decoding: words[0], as: UTF8.self))
            else { throw SMTPCommandError(SMTPReply(501, "5.5.4", "Syntax: BDAT <size> [LAST]")) }
            var last = false
            if words.count == 2 {
                guard words[1].map(asciiUppercase) == Array("LAST".utf8) else {
                    throw SMTPCommandError(SMTPReply(501, "5.5.4", "Syntax: BDAT <size> [LAST]"))
                }
                last = true
            }
            return .bdat(size: size, last: last)
        case "DATA": return try bare(.data, hasArgument, "DATA")
        case "RSET": return try bare(.reset, hasArgument, "RSET")
        case "QUIT": return try bare(.quit, hasArgument, "QUIT")
        case "STARTTLS": return try bare(.startTLS, hasArgument, "STARTTLS")
        case "NOOP": return .noop
        case "VRFY": return .verify
        case "EXPN": return .expand
        case "HELP": return .help
        default: throw SMTPCommandError(.unrecognised)
        }
    }

    private static func bare(_ command: SMTPCommand, _ hasArgument: Bool, _ verb: String) throws(SMTPCommandError) -> SMTPCommand {
        guard !hasArgument else { throw SMTPCommandError(SMTPReply(501, "5.5.4", "\(verb) takes no argument")) }
        return command
    }

    private static func noParameters(_ rest: ArraySlice<UInt8>, command: String) throws(SMTPCommandError) {
        let text = String(decoding: rest, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard text.isEmpty else {
            throw SMTPCommandError(SMTPReply(555, "5.5.4", "\(command) parameter not supported: \(text.prefix(64))"))
        }
    }

    private static func mailParameters(_ rest: ArraySlice<UInt8>) throws(SMTPCommandError) -> MailParameters {
        var parameters = MailParameters()
        var seen: Set<String> = []
        for word in rest.split(separator: 0x20) {
            let parts = word.split(separator: 0x3D, maxSplits: 1, omittingEmptySubsequences: false)
            let keyword = String(decoding: parts[0].map(asciiUppercase), as: UTF8.self)
            let value = parts.count == 2 ? String(decoding: parts[1], as: UTF8.self) : nil
            guard seen.insert(keyword).inserted else {
                throw SMTPCommandError(SMTPReply(501, "5.5.4", "MAIL FROM parameter \(keyword) given twice"))
            }
            switch (keyword, value) {
            case ("SIZE", let value?):
                guard value.count <= 18, let size = Int(value), size >= 0 else {
                    throw SMTPCommandError(SMTPReply(501, "5.5.4", "SIZE must be a number of octets"))
                }
                parameters.size = size
            case ("BODY", let value?):
                guard let body = BodyType(rawValue: value.uppercased()) else {
                    throw SMTPCommandError(SMTPReply(555, "5.5.4", "BODY=\(value.prefix(32)) is not supported; use 7BIT or 8BITMIME"))
                }
                parameters.body = body
            case ("SMTPUTF8", nil):
                parameters.smtpUTF8 = true
            default:
                throw SMTPCommandError(SMTPReply(555, "5.5.4", "MAIL FROM parameter not supported: \(String(decoding: word.prefix(64), as: UTF8.self))"))
            }
        }
        return parameters
    }
}

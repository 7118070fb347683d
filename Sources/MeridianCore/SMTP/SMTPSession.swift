/// The server side of one SMTP session (RFC 5321), as a state machine with no networking.
///
/// The transport feeds it bytes with ``receive(_:)`` and acts on the events it returns: replies to write,
/// a STARTTLS switch, a complete message, a close. Pipelined commands (RFC 2920) are answered in order in
/// one batch; bytes after DATA's end wait until the transport settles the message with ``completeMessage(with:)``.
public struct SMTPSession: Sendable {
    public let configuration: SMTPSessionConfiguration
    let policy: any SMTPRecipientPolicy
    let remoteAddress: String
    public private(set) var tls: SMTPTLSInfo?

    // Internal rather than private only so that SMTPSession+Content.swift can read DATA and BDAT.
    var phase = Phase.command
    var greeting: (domain: String, extended: Bool)?
    var draft: Draft?
    var errors = 0
    var input: [UInt8] = []
    var inputStart = 0
    var discardingLongLine = false
    var text = TextState()
    /// Command lines since the transport last took them (``takeCommandLines()``), when the configuration asks.
    var commandLines: [String] = []

    enum Phase {
        case command
        case data
        case chunk(remaining: Int, last: Bool, accepted: Bool)
        case awaitingMessageReply
        case awaitingTLS
        case closed
    }

    /// A transaction being built between MAIL and the end of its content.
    struct Draft {
        var from: SMTPMailbox?
        var parameters: SMTPCommand.MailParameters
        var recipients: [SMTPTransaction.Recipient] = []
        var data: [UInt8] = []
        var usedChunking = false
        var oversize = false
    }

    /// Line state while reading DATA.
    struct TextState {
        var atLineStart = true
        var previousWasCR = false
        var lineLength = 0
        var bareLineFeed = false
        var lineTooLong = false
    }

    public init(configuration: SMTPSessionConfiguration, remoteAddress: String, policy: any SMTPRecipientPolicy) {
        self.configuration = configuration
        self.remoteAddress = remoteAddress
        self.policy = policy
    }

    /// The 220 greeting to send when the connection opens.
    public var greetingReply: SMTPReply { SMTPReply(220, nil, "\(configuration.hostname) ESMTP Meridian") }

    public var isClosed: Bool { if case .closed = phase { true } else { false } }

    /// Between transactions, with no command input waiting: a shutting-down server may end the session here
    /// without cutting off a transaction.
    public var isIdle: Bool {
        guard case .command = phase, draft == nil else { return false }
        return input.count == inputStart
    }

    /// Message content is arriving: after `DATA` until the final dot, or inside a `BDAT` chunk.
    public var isReceivingMessage: Bool {
        switch phase {
        case .data, .chunk: true
        default: false
        }
    }

    /// A command line has begun and not ended: what a slowloris client keeps open by sending it a byte at a
    /// time. The server gives a command line as long as its idle timeout, however the bytes trickle in.
    public var hasPartialCommand: Bool {
        guard case .command = phase else { return false }
        return input.count > inputStart
    }

    // MARK: Input

    /// Feeds bytes from the client and returns what to do, in order.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [SMTPSessionEvent] {
        switch phase {
        case .closed, .awaitingTLS: return []
        default: break
        }
        input.append(contentsOf: bytes)
        var events: [SMTPSessionEvent] = []
        process(&events)
        return events
    }

    /// Settles the message of the last ``SMTPSessionEvent/message(_:)`` event and goes on with pipelined input.
    public mutating func completeMessage(with reply: SMTPReply) -> [SMTPSessionEvent] {
        guard case .awaitingMessageReply = phase else { return [] }
        draft = nil
        phase = .command
        var events: [SMTPSessionEvent] = [.reply(reply)]
        process(&events)
        return events
    }

    /// The TLS handshake finished: the session starts over, as RFC 3207 section 4.2 requires.
    public mutating func tlsEstablished(_ info: SMTPTLSInfo) -> [SMTPSessionEvent] {
        guard case .awaitingTLS = phase else { return [] }
        tls = info
        greeting = nil
        draft = nil
        phase = .command
        return []
    }

    private mutating func process(_ events: inout [SMTPSessionEvent]) {
        loop: while true {
            switch phase {
            case .command:
                guard let line = nextCommandLine(&events) else { break loop }
                if let line { handle(line, &events) }
            case .data:
                guard readText(&events) else { break loop }
            case let .chunk(remaining, last, accepted):
                guard readChunk(remaining: remaining, last: last, accepted: accepted, &events) else { break loop }
            case .awaitingMessageReply, .awaitingTLS, .closed:
                break loop
            }
        }
        if inputStart > 0 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
    }

    /// The next complete command line without CRLF; `.some(nil)` when a line was consumed and refused;
    /// `nil` when more input is needed.
    private mutating func nextCommandLine(_ events: inout [SMTPSessionEvent]) -> ArraySlice<UInt8>?? {
        guard let end = input.firstIndex(of: 0x0A, from: inputStart) else {
            if input.count - inputStart > SMTPSessionConfiguration.commandLineLimit {
                if !discardingLongLine { fail(.lineTooLong, &events) }
                discardingLongLine = true
                inputStart = input.count
            }
            return nil
        }
        let line = input[inputStart..<end]
        inputStart = end + 1
        if discardingLongLine {
            discardingLongLine = false
            return .some(nil)
        }
        guard line.count + 1 <= SMTPSessionConfiguration.commandLineLimit else {
            fail(.lineTooLong, &events)
            return .some(nil)
        }
        guard line.last == 0x0D else {
            fail(.bareLineFeedInCommand, &events)
            return .some(nil)
        }
        return .some(line.dropLast())
    }

    /// Counts a failed command; after too many, the session says 421 and closes.
    mutating func fail(_ reply: SMTPReply, _ events: inout [SMTPSessionEvent]) {
        errors += 1
        if errors >= configuration.maxErrors {
            events.append(.reply(.tooManyErrors))
            events.append(.close)
            phase = .closed
            draft = nil
        } else {
            events.append(.reply(reply))
        }
    }

    // MARK: Commands

    /// The command lines received since the last call, printable (control bytes as `\xNN`), without message content.
    public mutating func takeCommandLines() -> [String] {
        defer { commandLines = [] }
        return commandLines
    }

    static func printable(_ line: ArraySlice<UInt8>) -> String {
        var text = ""
        text.reserveCapacity(line.count)
        let hex = Array("0123456789abcdef")
        for byte in line.prefix(SMTPSessionConfiguration.commandLineLimit) {
            if byte >= 0x20 && byte < 0x7F && byte != 0x5C {
                text.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                text += "\\x" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
            }
        }
        return text
    }

    private mutating func handle(_ line: ArraySlice<UInt8>, _ events: inout [SMTPSessionEvent]) {
        if configuration.keepsCommandLines { commandLines.append(Self.printable(line)) }
        let command: SMTPCommand
        do { command = try SMTPCommand.parse(line) } catch {
            fail(error.reply, &events)
            return
        }
        switch command {
        case let .hello(domain, extended):
            greeting = (domain, extended)
            draft = nil
            events.append(.reply(extended ? ehloReply(domain) : SMTPReply(250, nil, "\(configuration.hostname) Hello \(domain)")))
        case let .mail(from, parameters):
            mail(from: from, parameters: parameters, &events)
        case let .recipient(path):
            recipient(path, &events)
        case .data:
            guard let draft, !draft.recipients.isEmpty, !draft.usedChunking else {
                return fail(noContentReply(chunking: false), &events)
            }
            text = TextState()
            phase = .data
            events.append(.reply(SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")))
        case let .bdat(size, last):
            let accepted = draft.map { !$0.recipients.isEmpty } ?? false
            if accepted { draft?.usedChunking = true }
            phase = .chunk(remaining: size, last: last, accepted: accepted)
        case .reset:
            draft = nil
            events.append(.reply(.ok()))
        case .noop:
            events.append(.reply(.ok()))
        case .quit:
            events.append(.reply(.closing))
            events.append(.close)
            phase = .closed
            draft = nil
        case .verify:
            events.append(.reply(SMTPReply(252, "2.5.0", "Cannot VRFY the user; send the message and delivery will be attempted")))
        case .expand:
            fail(SMTPReply(502, "5.5.1", "EXPN is not available"), &events)
        case .help:
            events.append(.reply(SMTPReply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY STARTTLS QUIT")))
        case .startTLS:
            guard configuration.tlsAvailable else { return fail(SMTPReply(502, "5.5.1", "STARTTLS is not available"), &events) }
            guard tls == nil else { return fail(.badSequence("TLS is already active"), &events) }
            events.append(.reply(SMTPReply(220, "2.0.0", "Ready to start TLS")))
            events.append(.startTLS)
            phase = .awaitingTLS
            input.removeAll()
            inputStart = 0
        }
    }

    private func ehloReply(_ domain: String) -> SMTPReply {
        var lines = ["\(configuration.hostname) Hello \(domain)", "PIPELINING", "SIZE \(configuration.maxMessageSize)", "8BITMIME", "SMTPUTF8",
                     "ENHANCEDSTATUSCODES", "CHUNKING"]
        if configuration.tlsAvailable && tls == nil { lines.append("STARTTLS") }
        return SMTPReply(250, nil, lines)
    }

    func noContentReply(chunking: Bool) -> SMTPReply {
        guard let draft else { return .badSequence("Send MAIL FROM and RCPT TO first") }
        if draft.recipients.isEmpty { return SMTPReply(554, "5.5.1", "No valid recipients") }
        return .badSequence(chunking ? "BDAT cannot follow DATA" : "DATA cannot follow BDAT in one transaction")
    }

    private mutating func mail(from: SMTPMailbox?, parameters: SMTPCommand.MailParameters, _ events: inout [SMTPSessionEvent]) {
        guard let greeting else { return fail(.badSequence("Send EHLO or HELO first"), &events) }
        guard draft == nil else { return fail(.badSequence("A transaction is already open; send RSET first"), &events) }
        if !greeting.extended && parameters != SMTPCommand.MailParameters() {
            return fail(SMTPReply(555, "5.5.4", "MAIL FROM parameters need EHLO"), &events)
        }
        if let size = parameters.size, size > configuration.maxMessageSize {
            return fail(SMTPReply(552, "5.3.4", "Message size \(size) exceeds the limit of \(configuration.maxMessageSize) octets"), &events)
        }
        if let from, !from.isASCII, !parameters.smtpUTF8 {
            return fail(SMTPReply(553, "5.6.7", "A non-ASCII address needs the SMTPUTF8 parameter"), &events)
        }
        draft = Draft(from: from, parameters: parameters)
        events.append(.reply(SMTPReply(250, "2.1.0", "Sender <\(from.map(String.init(describing:)) ?? "")> OK")))
    }

    private mutating func recipient(_ path: SMTPCommand.RecipientPath, _ events: inout [SMTPSessionEvent]) {
        guard let current = draft else { return fail(.badSequence("Send MAIL FROM first"), &events) }
        let mailbox: SMTPMailbox
        switch path {
        case let .mailbox(value): mailbox = value
        case .postmaster: mailbox = SMTPMailbox(localPart: "postmaster", domain: configuration.hostname.lowercased())
        }
        if !mailbox.isASCII && !current.parameters.smtpUTF8 {
            return fail(SMTPReply(553, "5.6.7", "A non-ASCII address needs the SMTPUTF8 parameter on MAIL FROM"), &events)
        }
        if current.recipients.contains(where: { $0.mailbox == mailbox }) {
            events.append(.reply(SMTPReply(250, "2.1.5", "Recipient <\(mailbox)> OK")))
            return
        }
        guard current.recipients.count < configuration.maxRecipients else {
            events.append(.reply(SMTPReply(452, "4.5.3", "Too many recipients; the limit is \(configuration.maxRecipients) per message")))
            return
        }
        let decision = policy.decide(mailbox, accepted: current.recipients)
        switch decision {
        case let .accept(customer):
            draft?.recipients.append(SMTPTransaction.Recipient(mailbox: mailbox, customer: customer))
            events.append(.reply(decision.reply(for: mailbox)))
        case .pinnedElsewhere, .separateTransaction:
            events.append(.reply(decision.reply(for: mailbox)))
        case .unknown:
            fail(decision.reply(for: mailbox), &events)
        }
    }
}

import MeridianCore

/// Drives an ``SMTPSession`` the way a transport would, recording replies as `code enhanced` strings
/// such as `"250 2.1.0"` so transcripts read like RFC examples.
struct SMTPTranscript {
    var session: SMTPSession
    var messages: [SMTPTransaction] = []
    var closed = false
    var startedTLS = false
    /// The reply the "transport" gives each complete message.
    var messageReply = SMTPReply(250, "2.0.0", "Queued")
    var lastReplies: [SMTPReply] = []
    /// Whether a STARTTLS switch completes at once, as a transport would after the handshake.
    var completesTLSHandshake = false

    static let policy = SMTPRecipientPolicyClosure { mailbox in
        switch mailbox.domain {
        case "eu-customer.example": .accept(customer: "cus_eu")
        case "us-customer.example": .pinnedElsewhere(region: "us", mxHost: "us.mx.meridian.example")
        case "meridian.test": .accept(customer: "postmaster")
        default: .unknown
        }
    }

    init(configure: (inout SMTPSessionConfiguration) -> Void = { _ in }) {
        var configuration = SMTPSessionConfiguration(hostname: "meridian.test")
        configure(&configuration)
        self.init(configuration: configuration)
    }

    init(configuration: SMTPSessionConfiguration) {
        session = SMTPSession(configuration: configuration, remoteAddress: "192.0.2.10", policy: Self.policy)
    }

    /// Sends raw client bytes and returns the replies' `code enhanced` heads.
    @discardableResult
    mutating func send(_ text: String) -> [String] { send(Array(text.utf8)) }

    @discardableResult
    mutating func send(_ bytes: [UInt8]) -> [String] {
        lastReplies = []
        handle(session.receive(bytes))
        return lastReplies.map(\.head)
    }

    private mutating func handle(_ events: [SMTPSessionEvent]) {
        for event in events {
            switch event {
            case let .reply(reply): lastReplies.append(reply)
            case .startTLS:
                startedTLS = true
                if completesTLSHandshake {
                    handle(session.tlsEstablished(SMTPTLSInfo(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256")))
                }
            case .close: closed = true
            case let .message(transaction):
                messages.append(transaction)
                handle(session.completeMessage(with: messageReply))
            }
        }
    }

    /// EHLO, MAIL and one accepted RCPT, ready for DATA.
    mutating func openTransaction(from: String = "<sender@origin.example>", parameters: String = "") {
        send("EHLO client.example\r\nMAIL FROM:\(from)\(parameters)\r\nRCPT TO:<inbox@eu-customer.example>\r\n")
    }
}

extension SMTPReply {
    var head: String { [String(code), enhancedCode].compactMap { $0 }.joined(separator: " ") }
}

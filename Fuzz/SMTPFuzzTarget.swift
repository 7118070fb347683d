// libFuzzer entry point for the SMTP command parser and session: the input is fed in chunks whose sizes
// come from its first byte, so pipelining and split lines are explored too.
// Built by scripts/fuzz together with the MeridianCore sources it needs; not part of the Swift package.

struct FuzzPolicy: SMTPRecipientPolicy {
    func decide(_ recipient: SMTPMailbox, accepted: [SMTPTransaction.Recipient]) -> SMTPRecipientDecision {
        switch recipient.domain.utf8.count % 3 {
        case 0: .accept(customer: "c")
        case 1: .pinnedElsewhere(region: "us", mxHost: "us.mx.example")
        default: .unknown
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSMTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    _ = try? SMTPCommand.parse(bytes.dropFirst())
    var configuration = SMTPSessionConfiguration(hostname: "fuzz.example")
    configuration.maxMessageSize = 4096
    configuration.tlsAvailable = first & 1 == 1
    var session = SMTPSession(configuration: configuration, remoteAddress: "192.0.2.1", policy: FuzzPolicy())
    let chunk = Int(first % 17) + 1
    var index = 1
    var pending: [SMTPSessionEvent] = []
    while index < bytes.count {
        let end = min(bytes.count, index + chunk)
        pending = session.receive(bytes[index..<end])
        index = end
        while let event = pending.first {
            pending.removeFirst()
            switch event {
            case let .message(transaction):
                precondition(transaction.data.count <= configuration.maxMessageSize)
                precondition(!transaction.recipients.isEmpty)
                pending += session.completeMessage(with: SMTPReply(250, "2.0.0", "ok"))
            case .startTLS:
                pending += session.tlsEstablished(SMTPTLSInfo(version: "TLSv1.3", cipher: "x"))
            case let .reply(reply):
                precondition((200..<600).contains(reply.code))
            case .close:
                precondition(session.isClosed)
            }
        }
    }
    return 0
}

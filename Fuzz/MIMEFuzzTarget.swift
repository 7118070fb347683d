// libFuzzer entry point for the MIME parser: parse, extract the content, encode the payload.
// Built by scripts/fuzz together with the MeridianCore sources it needs; not part of the Swift package.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMIME(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = Array(UnsafeBufferPointer(start: data, count: size))
    let message = MIMEMessage(parsing: raw)
    let content = MessageContent(message)
    let envelope = MessageEnvelope(
        to: "a@b.example", recipients: ["a@b.example"], from: "", heloDomain: "h", remoteIP: "192.0.2.1", tls: nil, size: size)
    let payload = WebhookPayload.encode(envelope: envelope, message: message, content: content)
    precondition(payload.first == 0x7B && payload.last == 0x7D, "the payload is a JSON object")
    if let plain = content.plain { _ = ReplyExtractor.newText(plain) }
    return 0
}

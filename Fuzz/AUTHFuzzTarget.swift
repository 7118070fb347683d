// libFuzzer entry point for the parsers of sender authentication, one binary for the four so that CI builds
// it once: the first byte picks DNS answers (0), SPF records and macros (1), DKIM signatures and
// canonicalization (2), or DMARC records and From address lists (3); the rest is the input.
// Built by scripts/fuzz together with the MeridianCore sources it needs; not part of the Swift package.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAuthentication(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    switch first % 4 {
    case 0: fuzzDNS(input)
    case 1: fuzzSPF(input)
    case 2: fuzzDKIM(input)
    default: fuzzDMARC(input)
    }
    return 0
}

func fuzzDNS(_ bytes: [UInt8]) {
    guard let response = try? DNSMessage.parse(bytes) else { return }
    precondition(response.records.count <= bytes.count / 11, "every record takes at least 11 bytes")
    for record in response.records {
        if case .txt(let text) = record.data {
            _ = SPFRecord.isSPF(text)
            _ = DMARCRecord.isDMARC(text)
        }
    }
    _ = response.records.mx
}

func fuzzSPF(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if let record = try? SPFRecord(parsing: "v=spf1 " + text) {
        precondition(record.directives.count <= text.utf8.count, "each directive comes from at least one byte")
    }
    if let expanded = try? SPFMacro.expand(text, with: .placeholder) {
        _ = SPFMacro.truncated(expanded)
    }
}

func fuzzDKIM(_ bytes: [UInt8]) {
    let message = DKIMMessage(bytes)
    for field in message.fields {
        for mode in [DKIMSignature.Canonicalization.simple, .relaxed] {
            _ = DKIMCanonicalization.header(field.raw, mode)
        }
        if field.name == "dkim-signature" {
            let stripped = DKIMCanonicalization.withoutSignatureValue(field.raw)
            precondition(stripped.count <= field.raw.count + 2, "removing b= never adds more than a CRLF")
            _ = try? DKIMSignature(parsing: String(decoding: field.raw.drop(while: { $0 != 0x3A }).dropFirst(), as: UTF8.self))
        }
    }
    let relaxed = DKIMCanonicalization.body(message.body, .relaxed)
    precondition(relaxed.count <= message.body.count + 2, "relaxed canonicalization only removes, but for a final CRLF")
    _ = DKIMCanonicalization.body(message.body, .simple)
    _ = try? DKIMSignature(parsing: String(decoding: bytes, as: UTF8.self))
}

func fuzzDMARC(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    if DMARCRecord.isDMARC(text) { _ = try? DMARCRecord(parsing: text) }
    _ = try? DMARCRecord(parsing: "v=DMARC1; " + text)
    for domain in DMARCCheck.domains(inAddressList: bytes) {
        let organization = PublicSuffixList.fuzzList.organizationalDomain(of: domain)
        let labels = domain.lowercased().split(separator: ".").joined(separator: ".")
        precondition(labels.hasSuffix(organization), "the organizational domain is a suffix of the domain")
    }
}

extension PublicSuffixList {
    static let fuzzList = PublicSuffixList(parsing: "com\nco.uk\n*.ck\n!www.ck\nрф\n")
}

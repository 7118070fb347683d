// libFuzzer entry point for the core's vector loops in C (CMeridianBytes): the input as quoted-printable, as UTF-8 and
// as the inside of a JSON string, with the vector instructions and without; and as base64 lines, checked with the fast
// path for lines of one length and without. Any difference is a crash.
// Built by scripts/fuzz together with the MeridianCore sources it needs; not part of the Swift package.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = Array(UnsafeBufferPointer(start: data, count: size))
    for lineFeeds in [false, true] {
        let vector = TransferEncoding.decodeQuotedPrintable(raw[...], lineFeeds: lineFeeds)
        let bytewise = TransferEncoding.decodeQuotedPrintable(raw[...], lineFeeds: lineFeeds, vectors: false)
        precondition(vector.bytes == bytewise.bytes && vector.clean == bytewise.clean && vector.utf8 == bytewise.utf8,
                     "quoted-printable: the vector loop and the byte loop differ")
        precondition(vector.utf8 == UTF8Validator.isValid(vector.bytes, vectors: .none), "quoted-printable: utf8 is wrong")
    }
    let validity = VectorInstructions.allCases.map { UTF8Validator.isValid(raw, vectors: $0) }
    precondition(Set(validity).count == 1, "UTF-8: the loops differ: \(validity)")
    let escaped = VectorInstructions.allCases.map { vectors in
        var bytes: [UInt8] = []
        raw.withUnsafeBufferPointer { JSONWriter.appendEscaped($0, to: &bytes, vectors: vectors) }
        return bytes
    }
    precondition(Set(escaped).count == 1, "JSON escaping: the loops differ")
    let general = Base64Lines(checking: raw[...], fixedLines: false)
    for vectors in VectorInstructions.allCases {
        let fast = Base64Lines(checking: raw[...], fixedLines: true, vectors: vectors)
        precondition(fast?.text(vectors: vectors) == general?.text && fast?.decodedSize == general?.decodedSize, "base64 lines: the fast path differs (\(vectors))")
    }
    if let lines = Base64Lines(checking: raw[...]) { precondition(TransferEncoding.decodeBase64(raw[...]).bytes.count == lines.decodedSize, "base64 lines: the size is wrong") }
    return 0
}

/// A message split into what DKIM signs (RFC 6376 §3.4): its header fields as they arrived and its body,
/// with every line ending made CRLF first (mail that reaches the node with bare LFs is verified as it was
/// most likely signed).
struct DKIMMessage {
    struct Field {
        /// The field name, lower case.
        var name: String
        /// The whole field, name to final CRLF, folding included.
        var raw: ArraySlice<UInt8>
    }

    var fields: [Field]
    var body: ArraySlice<UInt8>

    init(_ data: [UInt8]) {
        self.init(lines: Self.crlf(data))
    }

    /// The header fields of `data` as it is, with their positions in it (line ends are left alone, so the
    /// ranges can cut `data` itself).
    static func headerBlock(_ data: [UInt8]) -> DKIMMessage {
        DKIMMessage(lines: data)
    }

    private init(lines bytes: [UInt8]) {
        var index = 0
        var fieldStart: Int? = nil
        var bodyStart = bytes.count
        var fields: [Field] = []
        func finish(_ end: Int) {
            guard let begin = fieldStart else { return }
            let raw = bytes[begin..<end]
            let name = raw.prefix(while: { $0 != 0x3A })
            if name.count < raw.count {
                fields.append(Field(name: String(decoding: name, as: UTF8.self).lowercased().trimmingCharacters(), raw: raw))
            }
            fieldStart = nil
        }
        while index < bytes.count {
            // The end of this line: its LF (CRLF once `crlf` ran), or the end of the data.
            let lineFeed = bytes[index...].firstIndex(of: 0x0A) ?? bytes.count
            let end = lineFeed > index && lineFeed < bytes.count && bytes[lineFeed - 1] == 0x0D ? lineFeed - 1 : lineFeed
            let next = min(lineFeed + 1, bytes.count)
            if end == index {  // the empty line: the body follows
                finish(index)
                bodyStart = next
                break
            }
            if bytes[index] == 0x20 || bytes[index] == 0x09 {
                if fieldStart == nil { fieldStart = index }  // a continuation with nothing before it
            } else {
                finish(index)
                fieldStart = index
            }
            index = next
        }
        if bodyStart == bytes.count { finish(bytes.count) }
        self.fields = fields
        self.body = bytes[bodyStart...]
    }

    /// `data` with each bare LF made CRLF; the same array when it has none.
    static func crlf(_ data: [UInt8]) -> [UInt8] {
        var bare = false
        for index in data.indices where data[index] == 0x0A && (index == 0 || data[index - 1] != 0x0D) {
            bare = true
            break
        }
        guard bare else { return data }
        var output: [UInt8] = []
        output.reserveCapacity(data.count + data.count / 32)
        for index in data.indices {
            if data[index] == 0x0A && (index == 0 || data[index - 1] != 0x0D) { output.append(0x0D) }
            output.append(data[index])
        }
        return output
    }
}

enum DKIMCanonicalization {
    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    /// A header field as the signature's header canonicalization presents it, with its CRLF.
    static func header(_ raw: ArraySlice<UInt8>, _ mode: DKIMSignature.Canonicalization) -> [UInt8] {
        guard mode == .relaxed else { return Array(raw) }
        guard let colon = raw.firstIndex(of: 0x3A) else { return Array(raw) }
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        for byte in raw[raw.startIndex..<colon] where !isSpace(byte) {
            output.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
        }
        output.append(0x3A)
        var pendingSpace = false
        let valueStart = output.count
        for byte in raw[(colon + 1)...] {
            if byte == 0x0D || byte == 0x0A { continue }  // unfold
            if isSpace(byte) {
                pendingSpace = true
                continue
            }
            if pendingSpace && output.count > valueStart { output.append(0x20) }
            pendingSpace = false
            output.append(byte)
        }
        output += [0x0D, 0x0A]
        return output
    }

    /// The body as the signature's body canonicalization presents it (before any `l=` limit).
    static func body(_ body: ArraySlice<UInt8>, _ mode: DKIMSignature.Canonicalization) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(body.count + 2)
        switch mode {
        case .simple:
            output += body
        case .relaxed:
            var pendingSpace = false
            var index = body.startIndex
            while index < body.endIndex {
                let byte = body[index]
                if byte == 0x0D, index + 1 < body.endIndex, body[index + 1] == 0x0A {
                    pendingSpace = false  // whitespace at the end of a line is dropped
                    output += [0x0D, 0x0A]
                    index += 2
                    continue
                }
                if isSpace(byte) {
                    pendingSpace = true
                } else {
                    if pendingSpace { output.append(0x20) }
                    pendingSpace = false
                    output.append(byte)
                }
                index += 1
            }
            if pendingSpace { output.append(0x20) }
        }
        // A last line without CRLF gets one; then empty lines at the end go.
        if !output.isEmpty, !(output.count >= 2 && output[output.count - 2] == 0x0D && output[output.count - 1] == 0x0A) {
            output += [0x0D, 0x0A]
        }
        while output.count >= 4, output[(output.count - 4)...] == [0x0D, 0x0A, 0x0D, 0x0A][...] { output.removeLast(2) }
        if output == [0x0D, 0x0A] && mode == .relaxed { output = [] }
        if output.isEmpty && mode == .simple { output = [0x0D, 0x0A] }
        return output
    }

    /// The DKIM-Signature field itself with the value of its `b=` tag removed (§3.7), whitespace and all.
    static func withoutSignatureValue(_ raw: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let colon = raw.firstIndex(of: 0x3A) else { return raw }
        var output = Array(raw[...colon])
        var segmentStart = colon + 1
        while segmentStart <= raw.endIndex {
            let segmentEnd = raw[segmentStart...].firstIndex(of: 0x3B) ?? raw.endIndex
            let segment = raw[segmentStart..<segmentEnd]
            if let equals = segment.firstIndex(of: 0x3D),
                segment[segment.startIndex..<equals].filter({ !isSpace($0) && $0 != 0x0D && $0 != 0x0A }) == [0x62]
            {
                output += segment[...equals]
                // The field's closing CRLF stays, so canonicalization ends it as before.
                if segmentEnd == raw.endIndex, raw.count >= 2, raw.suffix(2) == [0x0D, 0x0A][...] { output += [0x0D, 0x0A] }
            } else {
                output += segment
            }
            if segmentEnd < raw.endIndex { output.append(0x3B) }
            segmentStart = segmentEnd + 1
        }
        return output[...]
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        String(Substring(self).trimmingWhitespace())
    }
}

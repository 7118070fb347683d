/// Reads a header block: fields up to the empty line that separates them from the body.
enum HeaderBlockParser {
    /// Parses `raw[start..<end]`; returns the fields and where the body starts.
    static func parse(_ raw: [UInt8], from start: Int, to end: Int, isTopLevel: Bool, flags: inout Set<MIMEFlag>)
        -> (fields: [MIMEHeaderField], bodyStart: Int)
    {
        var fields: [MIMEHeaderField] = []
        var position = start
        var name: String?
        var value: [UInt8] = []

        func flush(_ flags: inout Set<MIMEFlag>) {
            if let name {
                while let last = value.last, last == 0x20 || last == 0x09 { value.removeLast() }
                fields.append(MIMEHeaderField(name: name, rawValue: value, flags: &flags))
            }
            name = nil
            value = []
        }

        // An mbox "From " line before the headers, as left by tools that save mail.
        if isTopLevel, end - start > 5, raw[start..<(start + 5)].elementsEqual("From ".utf8) {
            position = (raw.firstIndex(of: 0x0A, from: start, to: end) ?? (end - 1)) + 1
        }
        while position < end {
            let lineFeed = raw.firstIndex(of: 0x0A, from: position, to: end)
            let next = (lineFeed ?? end - 1) + 1
            var lineEnd = lineFeed ?? end
            if lineEnd > position, raw[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if lineEnd == position {
                flush(&flags)
                return (fields, next)
            }
            let first = raw[position]
            if first == 0x20 || first == 0x09 {
                if name != nil {
                    value.append(contentsOf: raw[position..<lineEnd])
                    position = next
                    continue
                }
            } else if let colon = raw.firstIndex(of: 0x3A, from: position, to: lineEnd), colon > position,
                raw[position..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F || $0 == 0x20 || $0 == 0x09 })
            {
                flush(&flags)
                var nameEnd = colon
                while nameEnd > position, raw[nameEnd - 1] == 0x20 || raw[nameEnd - 1] == 0x09 { nameEnd -= 1 }
                if !raw[position..<nameEnd].contains(where: { $0 == 0x20 || $0 == 0x09 }), nameEnd > position {
                    name = String(decoding: raw[position..<nameEnd], as: UTF8.self)
                    var valueStart = colon + 1
                    while valueStart < lineEnd, raw[valueStart] == 0x20 || raw[valueStart] == 0x09 { valueStart += 1 }
                    value.append(contentsOf: raw[valueStart..<lineEnd])
                    position = next
                    continue
                }
            }
            // Not a header line: the body starts here without the empty line (RFC 5322 wants one).
            flush(&flags)
            flags.insert(fields.isEmpty && isTopLevel ? .noHeaders : .missingHeaderSeparator)
            return (fields, position)
        }
        flush(&flags)
        return (fields, end)
    }
}

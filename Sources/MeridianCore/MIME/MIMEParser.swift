enum MIMEParser {
    static func parsePart(_ raw: [UInt8], range: Range<Int>, depth: Int, flags: inout Set<MIMEFlag>) -> MIMEPart {
        let (headers, bodyStart) = HeaderBlockParser.parse(
            raw, from: range.lowerBound, to: range.upperBound, isTopLevel: depth == 0, flags: &flags
        )
        var contentType = headers.first(named: "Content-Type").map { MIMEHeaderValue.parse($0.rawValue, flags: &flags) }
            ?? MIMEPart.defaultContentType
        // On the bytes: `String.contains` of a String goes through Foundation (NSString), 1.3 % of the text benchmark.
        if !contentType.value.utf8.contains(0x2F) { contentType = MIMEPart.defaultContentType }
        let disposition = headers.first(named: "Content-Disposition").map { MIMEHeaderValue.parse($0.rawValue, flags: &flags) }
        // Header values come trimmed from HeaderBlockParser.
        let transferEncoding = headers.first(named: "Content-Transfer-Encoding").map {
            String(decoding: $0.rawValue.map(asciiLowercase), as: UTF8.self)
        } ?? "7bit"
        var part = MIMEPart(
            headers: headers, contentType: contentType, disposition: disposition, transferEncoding: transferEncoding,
            body: bodyStart..<max(bodyStart, range.upperBound), children: []
        )
        guard part.isMultipart else { return part }
        guard depth < MIMEMessage.maximumDepth else {
            flags.insert(.nestingTooDeep)
            return part
        }
        guard let boundary = contentType.parameters["boundary"], !boundary.isEmpty, boundary.utf8.count <= 200 else {
            flags.insert(.missingBoundary)
            part.contentType = MIMEPart.defaultContentType
            return part
        }
        guard let ranges = splitMultipart(raw, body: part.body, boundary: Array(boundary.utf8), flags: &flags) else {
            flags.insert(.boundaryNotFound)
            part.contentType = MIMEPart.defaultContentType
            return part
        }
        part.children = ranges.map { parsePart(raw, range: $0, depth: depth + 1, flags: &flags) }
        return part
    }

    /// The ranges of a multipart body's parts (RFC 2046 section 5.1.1): between delimiter lines
    /// `--boundary`, each part without the line break that belongs to the next delimiter. `nil` when the
    /// boundary never occurs.
    ///
    /// A delimiter starts a line, so only where `--boundary` occurs (found with `memmem`) is a line looked at: a
    /// part of 10 MB of base64 has 130,000 lines and usually no dash.
    static func splitMultipart(_ raw: [UInt8], body: Range<Int>, boundary: [UInt8], flags: inout Set<MIMEFlag>) -> [Range<Int>]? {
        var ranges: [Range<Int>] = []
        var partStart: Int?
        let marker: [UInt8] = [0x2D, 0x2D] + boundary
        var searchFrom = body.lowerBound
        while let lineStart = raw.firstIndex(of: marker, from: searchFrom, to: body.upperBound) {
            searchFrom = lineStart + 1
            guard lineStart == body.lowerBound || raw[lineStart - 1] == 0x0A else { continue }
            let lineFeed = raw.firstIndex(of: 0x0A, from: lineStart, to: body.upperBound)
            let nextLine = (lineFeed ?? body.upperBound - 1) + 1
            guard let isClose = delimiter(raw, at: lineStart, lineEnd: lineFeed ?? body.upperBound, boundary: boundary) else { continue }
            if let partStart {
                var end = lineStart
                if end > partStart, raw[end - 1] == 0x0A { end -= 1 }
                if end > partStart, raw[end - 1] == 0x0D { end -= 1 }
                ranges.append(partStart..<max(partStart, end))
            }
            if isClose { return ranges }
            partStart = nextLine
            searchFrom = nextLine
        }
        guard let partStart else { return nil }
        flags.insert(.missingClosingBoundary)
        ranges.append(partStart..<body.upperBound)
        return ranges
    }

    /// Whether the line at `start` is `--boundary` (true when it is the closing `--boundary--`), allowing
    /// trailing whitespace; `nil` when it is not a delimiter.
    @inline(__always)
    static func delimiter(_ raw: [UInt8], at start: Int, lineEnd: Int, boundary: [UInt8]) -> Bool? {
        guard lineEnd - start >= boundary.count + 2, raw[start] == 0x2D, raw[start + 1] == 0x2D,
            raw[(start + 2)..<(start + 2 + boundary.count)].elementsEqual(boundary)
        else { return nil }
        var index = start + 2 + boundary.count
        var isClose = false
        if index + 1 < lineEnd, raw[index] == 0x2D, raw[index + 1] == 0x2D {
            isClose = true
            index += 2
        }
        while index < lineEnd, raw[index] == 0x20 || raw[index] == 0x09 || raw[index] == 0x0D { index += 1 }
        return index == lineEnd ? isClose : nil
    }
}

/// Finds the new text of a reply: CloudMailin's `reply_plain`. It cuts at the first quoted-history header
/// ("On ... wrote:", "-----Original Message-----", an Outlook `From:`/`Sent:` block and their common
/// translations), drops `>`-quoted lines and a trailing signature (`-- `, "Sent from my ..."). It works on
/// the UTF-8 bytes and looks at each line a bounded number of times, so the work is linear.
enum ReplyExtractor {
    /// The new text, or `nil` when nothing was found to remove (the message is not a reply).
    static func newText(_ plain: String) -> String? {
        var plain = plain
        return plain.withUTF8 { newText(in: $0) }
    }

    /// ``newText(_:)`` of text kept as UTF-8 bytes.
    static func newText(utf8 plain: [UInt8]) -> String? {
        plain.withUnsafeBufferPointer { newText(in: $0) }
    }

    private static func newText(in text: UnsafeBufferPointer<UInt8>) -> String? {
        var lines: [Range<Int>] = []
        var start = 0
        while let lineFeed = text.firstIndex(of: 0x0A, from: start) {
            lines.append(start..<lineFeed)
            start = lineFeed + 1
        }
        lines.append(start..<text.count)

        var kept: [Range<Int>] = []
        var removed = false
        for (number, line) in lines.enumerated() {
            let trimmed = trim(line, in: text)
            if isHistoryHeader(trimmed, lines: lines, at: number, in: text) || isSignatureDelimiter(line, trimmed, in: text) {
                removed = true
                break
            }
            if !trimmed.isEmpty && text[trimmed.lowerBound] == 0x3E {
                removed = true
                continue
            }
            kept.append(line)
        }
        while let last = kept.last {
            let trimmed = trim(last, in: text)
            let deviceSignature = deviceSignatures.contains { starts(trimmed, with: $0, in: text) }
            guard trimmed.isEmpty || deviceSignature else { break }
            if deviceSignature { removed = true }
            kept.removeLast()
        }
        guard removed else { return nil }
        var bytes: [UInt8] = []
        for (index, line) in kept.enumerated() {
            if index > 0 { bytes.append(0x0A) }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[line]))
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let attributionStarts = ["On ", "Le ", "Am ", "El ", "Op ", "Il ", "Em ", "W dniu ", "Den "].map { Array($0.utf8) }
    /// The verbs of "On <date>, <name> wrote:" in common client languages; the line ends with a colon.
    private static let attributionVerbs = [" wrote", " a écrit", " schrieb", " escribió", " schreef", " ha scritto", " escreveu",
                                           " написал", " napisał", " skrev"].map { Array($0.utf8) }
    private static let historySeparators = ["-----original message-----", "----- original message -----",
                                            "-------- original message --------", "---------- forwarded message"].map { Array($0.utf8) }

    /// The first bytes of ``attributionStarts``: a line starting with anything else is no attribution.
    private static let attributionFirstBytes = Array(Set(attributionStarts.map { $0[0] }))
    private static let outlookFrom = ["From:", "*From:*"].map { Array($0.utf8) }
    private static let outlookDate = ["Sent:", "Date:", "*Sent:*"].map { Array($0.utf8) }
    private static let outlookTo = ["To:", "Subject:", "*To:*"].map { Array($0.utf8) }
    private static let deviceSignatures = ["Sent from my ", "Get Outlook for "].map { Array($0.utf8) }

    /// Each kind of history header starts with its own bytes, so the line's first byte says which one to look for:
    /// most lines of a message are looked at once and left.
    private static func isHistoryHeader(_ line: Range<Int>, lines: [Range<Int>], at number: Int, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = line.first.map({ text[$0] }) else { return false }
        var next: Range<Int>? { number + 1 < lines.count ? trim(lines[number + 1], in: text) : nil }
        switch first {
        case 0x2D:
            return historySeparators.contains { separator in
                line.count >= separator.count && zip(text[line], separator).allSatisfy { asciiLowercase($0) == $1 }
            }
        case 0x5F:
            guard line.count >= 20, text[line].allSatisfy({ $0 == 0x5F }), let next else { return false }
            return starts(next, with: outlookFrom[0], in: text)
        case 0x46, 0x2A:
            // Outlook's header block: From: then Sent:/Date: then To:/Subject: within a few lines.
            guard outlookFrom.contains(where: { starts(line, with: $0, in: text) }) else { return false }
            let window = lines[(number + 1)..<min(lines.count, number + 5)].map { trim($0, in: text) }
            let hasDate = window.contains { line in outlookDate.contains { starts(line, with: $0, in: text) } }
            let hasTo = window.contains { line in outlookTo.contains { starts(line, with: $0, in: text) } }
            return hasDate && hasTo
        case _ where attributionFirstBytes.contains(first):
            guard attributionStarts.contains(where: { starts(line, with: $0, in: text) }) else { return false }
            if isAttribution([UInt8](text[line])) { return true }
            // Gmail wraps a long attribution over two lines.
            if let next, line.count + next.count < 300, isAttribution([UInt8](text[line]) + [0x20] + text[next]) { return true }
            return false
        default:
            return false
        }
    }

    private static func isAttribution(_ bytes: [UInt8]) -> Bool {
        guard bytes.last == 0x3A else { return false }
        return attributionVerbs.contains { verb in
            bytes.count >= verb.count && (0...(bytes.count - verb.count)).contains { bytes[$0..<($0 + verb.count)].elementsEqual(verb) }
        }
    }

    /// `-- ` (RFC 3676 section 4.3) or a bare `--` on its own line.
    private static func isSignatureDelimiter(_ line: Range<Int>, _ trimmed: Range<Int>, in text: UnsafeBufferPointer<UInt8>) -> Bool {
        trimmed.count == 2 && text[trimmed.lowerBound] == 0x2D && text[trimmed.lowerBound + 1] == 0x2D
    }

    private static func starts(_ line: Range<Int>, with prefix: [UInt8], in text: UnsafeBufferPointer<UInt8>) -> Bool {
        line.count >= prefix.count && text[line.lowerBound..<(line.lowerBound + prefix.count)].elementsEqual(prefix)
    }

    private static func trim(_ line: Range<Int>, in text: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        var lower = line.lowerBound
        var upper = line.upperBound
        while lower < upper, text[lower] == 0x20 || text[lower] == 0x09 || text[lower] == 0x0D { lower += 1 }
        while upper > lower, text[upper - 1] == 0x20 || text[upper - 1] == 0x09 || text[upper - 1] == 0x0D { upper -= 1 }
        return lower..<upper
    }
}

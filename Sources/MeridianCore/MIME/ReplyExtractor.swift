/// Finds the new text of a reply: CloudMailin's `reply_plain`. It cuts at the first quoted-history header
/// ("On ... wrote:", "-----Original Message-----", an Outlook `From:`/`Sent:` block and their common
/// translations), drops `>`-quoted lines and a trailing signature (`-- `, "Sent from my ..."). Each line is
/// looked at a bounded number of times, so the work is linear.
enum ReplyExtractor {
    /// The new text, or `nil` when nothing was found to remove (the message is not a reply).
    static func newText(_ plain: String) -> String? {
        let lines = plain.split(separator: "\n", omittingEmptySubsequences: false)
        var kept: [Substring] = []
        var removed = false
        var index = 0
        scan: while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters
            if isHistoryHeader(trimmed, next: index + 1 < lines.count ? lines[index + 1].trimmingCharacters : nil, lines: lines, at: index) {
                removed = true
                break scan
            }
            if trimmed == "--" || line == "-- " {
                removed = true
                break scan
            }
            if trimmed.hasPrefix(">") {
                removed = true
                index += 1
                continue
            }
            kept.append(line)
            index += 1
        }
        while let last = kept.last, last.trimmingCharacters.isEmpty || isDeviceSignature(last.trimmingCharacters) {
            if !last.trimmingCharacters.isEmpty { removed = true }
            kept.removeLast()
        }
        guard removed else { return nil }
        return kept.joined(separator: "\n")
    }

    /// The verbs of "On <date>, <name> wrote:" in common client languages; the line ends with a colon.
    private static let attributionVerbs = [" wrote", " a écrit", " schrieb", " escribió", " schreef", " ha scritto", " escreveu", " написал", " napisał", " skrev"]
    private static let attributionStarts = ["On ", "Le ", "Am ", "El ", "Op ", "Il ", "Em ", "W dniu ", "Den ", "Дата"]

    private static func isHistoryHeader(_ line: Substring, next: Substring?, lines: [Substring], at index: Int) -> Bool {
        let lower = line.lowercased()
        if lower.hasPrefix("-----original message-----") || lower.hasPrefix("----- original message -----")
            || lower.hasPrefix("-------- original message --------") || lower.hasPrefix("---------- forwarded message")
        {
            return true
        }
        if line.count >= 20, line.allSatisfy({ $0 == "_" }), let next, next.hasPrefix("From:") { return true }
        if attributionStarts.contains(where: { line.hasPrefix($0) }) {
            if isAttribution(line) { return true }
            // Gmail wraps a long attribution over two lines.
            if let next, line.count + next.count < 300, isAttribution(line + " " + next) { return true }
        }
        // Outlook's header block: From: then Sent:/Date: then To:/Subject: within a few lines.
        if line.hasPrefix("From:") || line.hasPrefix("*From:*") {
            let window = lines[(index + 1)..<min(lines.count, index + 5)].map { $0.trimmingCharacters }
            let hasDate = window.contains { $0.hasPrefix("Sent:") || $0.hasPrefix("Date:") || $0.hasPrefix("*Sent:*") }
            let hasTo = window.contains { $0.hasPrefix("To:") || $0.hasPrefix("Subject:") || $0.hasPrefix("*To:*") }
            return hasDate && hasTo
        }
        return false
    }

    private static func isAttribution(_ text: some StringProtocol) -> Bool {
        text.hasSuffix(":") && attributionVerbs.contains { text.contains($0) }
    }

    private static func isDeviceSignature(_ line: Substring) -> Bool {
        line.hasPrefix("Sent from my ") || line.hasPrefix("Get Outlook for ")
    }
}

extension Substring {
    var trimmingCharacters: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" || first == "\r" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        return text
    }
}

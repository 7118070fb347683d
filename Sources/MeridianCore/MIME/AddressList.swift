/// One mailbox of an address-list header field (RFC 5322 section 3.4): its display name and its address.
public struct Mailbox: Sendable, Hashable {
    /// The display name, with quotes and comments removed and encoded words decoded; empty when there is none.
    public var name: String
    /// The `local@domain` address as written, without angle brackets.
    public var address: String

    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }

    /// The part of the local part after its first `+` (`inbox+ticket-42@` gives `ticket-42`), or nil.
    public var detail: String? {
        guard let at = address.lastIndex(of: "@"), let plus = address[..<at].firstIndex(of: "+") else { return nil }
        let detail = address[address.index(after: plus)..<at]
        return detail.isEmpty ? nil : String(detail)
    }
}

/// Reads the mailboxes of `From`, `To`, `Cc` and similar fields leniently: groups are flattened, comments dropped,
/// and an entry with no `@` is skipped. DMARC reads the From domain with it; the POST formats of other services
/// need names and addresses apart.
public enum AddressList {
    public static func mailboxes(_ raw: [UInt8]) -> [Mailbox] {
        var found: [Mailbox] = []
        // The phrase or bare address seen so far (quotes kept, comments dropped), and the address in angle brackets.
        var phrase: [UInt8] = []
        var angle: [UInt8]? = nil
        var inAngle = false
        var depth = 0
        var quoted = false
        var escaped = false
        func flush() {
            defer {
                phrase = []
                angle = nil
            }
            if let angle {
                guard angle.contains(0x40) else { return }
                found.append(Mailbox(name: displayName(phrase), address: String(decoding: angle, as: UTF8.self)))
            } else {
                let address = phrase.filter { !isSpace($0) }
                guard address.contains(0x40) else { return }
                found.append(Mailbox(name: "", address: String(decoding: address, as: UTF8.self)))
            }
        }
        for byte in raw {
            if escaped {
                escaped = false
                if depth == 0 { phrase.append(byte) }
                continue
            }
            if byte == 0x5C && (quoted || depth > 0) {
                escaped = true
                if depth == 0 { phrase.append(byte) }
                continue
            }
            if quoted {
                if byte == 0x22 { quoted = false }
                phrase.append(byte)
                continue
            }
            if depth > 0 {
                if byte == 0x28 { depth += 1 } else if byte == 0x29 { depth -= 1 }
                continue
            }
            switch byte {
            case 0x22:
                quoted = true
                phrase.append(byte)
            case 0x28:
                depth = 1
                phrase.append(0x20)
            case 0x3C:
                inAngle = true
                angle = []
            case 0x3E:
                inAngle = false
            case 0x2C, 0x3B:  // "," between addresses; ";" ends a group
                if !inAngle { flush() }
            case 0x3A where !inAngle:
                phrase = []  // "group:" opens a group; what came before was its name
            default:
                if inAngle {
                    if !isSpace(byte) { angle?.append(byte) }
                } else {
                    phrase.append(byte)
                }
            }
        }
        flush()
        return found
    }

    /// A phrase for people: quotes and their escapes removed, encoded words decoded, runs of white space as one.
    static func displayName(_ phrase: [UInt8]) -> String {
        var text: [UInt8] = []
        var escaped = false
        for byte in phrase {
            if escaped {
                text.append(byte)
                escaped = false
            } else if byte == 0x5C {
                escaped = true
            } else if byte != 0x22 {
                text.append(isSpace(byte) ? 0x20 : byte)
            }
        }
        var flags = Set<MIMEFlag>()
        let decoded = EncodedWords.decode(text[...], flags: &flags)
        return decoded.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
}

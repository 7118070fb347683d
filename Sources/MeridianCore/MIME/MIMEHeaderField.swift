/// One header field (RFC 5322 section 2.2): its name as written, and its value unfolded.
public struct MIMEHeaderField: Sendable, Hashable {
    public let name: String
    /// The value with folding removed and the bytes as sent: what structured parsing reads.
    public let rawValue: [UInt8]
    /// The value for people: RFC 2047 encoded words decoded, 8-bit text read as UTF-8 (RFC 6532).
    public let value: String
    let lowercasedName: String

    init(name: String, rawValue: [UInt8], flags: inout Set<MIMEFlag>) {
        self.name = name
        self.lowercasedName = name.lowercased()
        self.rawValue = rawValue
        self.value = EncodedWords.decode(rawValue[...], flags: &flags)
    }
}

extension Array where Element == MIMEHeaderField {
    /// The first field with this name, compared without case.
    public func first(named name: String) -> MIMEHeaderField? {
        let lowercased = name.lowercased()
        return first { $0.lowercasedName == lowercased }
    }
}

/// An e-mail address `local@domain` with a dot-atom local part (RFC 5322 section 3.4.1) and a valid domain.
///
/// Quoted local parts and address literals are deliberately refused: contact addresses must be deliverable
/// by any mail system.
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    public let localPart: String
    public let domain: DomainName

    private static let atext: Set<UInt8> = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".utf8)

    public init?(_ text: String) {
        guard text.utf8.count <= 254, let at = text.lastIndex(of: "@") else { return nil }
        let local = text[..<at]
        guard let domain = DomainName(String(text[text.index(after: at)...])) else { return nil }
        guard (1...64).contains(local.utf8.count), local.first != ".", local.last != ".", !local.contains("..") else {
            return nil
        }
        guard local.utf8.allSatisfy({ Self.atext.contains($0) || $0 == 0x2E }) else { return nil }
        self.localPart = String(local)
        self.domain = domain
    }

    public var description: String { "\(localPart)@\(domain)" }
}

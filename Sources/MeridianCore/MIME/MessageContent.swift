/// What a customer receives of a message: its first plain-text and HTML bodies, the reply without quoted
/// history, and every other part as an attachment (CloudMailin's model).
public struct MessageContent: Sendable {
    /// The first plain-text body: UTF-8, with LF line ends. Kept as bytes, checked as they were decoded, and written
    /// into the JSON payload as they are; ``plain`` makes the `String` for those who need one.
    public var plainUTF8: [UInt8]?
    /// The first HTML body, as ``plainUTF8`` is kept.
    public var htmlUTF8: [UInt8]?
    /// The new text of a reply; `nil` when no quoted history or signature was found to remove.
    public var replyPlain: String?
    public var attachments: [Attachment]
    /// The message's flags plus those found while decoding the content.
    public var flags: Set<MIMEFlag>

    public struct Attachment: Sendable, Hashable {
        public var fileName: String?
        public var contentType: String
        /// `attachment` or `inline`, as the part says; `attachment` when it does not.
        public var disposition: String
        public var contentID: String?
        /// The decoded size in octets.
        public var size: Int
        public var content: Content

        /// The bytes, or the part's own base64 when it was clean already: no decoding, no re-encoding, and no copy
        /// before the payload's.
        public enum Content: Sendable, Hashable {
            case bytes([UInt8])
            case base64(Base64Lines)
        }
    }

    /// Extracts the content of `message`, decoding transfer encodings and charsets.
    public init(_ message: MIMEMessage) {
        plainUTF8 = nil
        htmlUTF8 = nil
        attachments = []
        flags = message.flags
        visit(message.root, in: message.raw)
        replyPlain = plainUTF8.flatMap(ReplyExtractor.newText(utf8:))
    }

    /// ``plainUTF8`` as a `String`, made (and checked again) on each use.
    public var plain: String? {
        get { plainUTF8.map { String(decoding: $0, as: UTF8.self) } }
        set { plainUTF8 = newValue.map { Array($0.utf8) } }
    }

    /// ``htmlUTF8`` as a `String`, made on each use.
    public var html: String? {
        get { htmlUTF8.map { String(decoding: $0, as: UTF8.self) } }
        set { htmlUTF8 = newValue.map { Array($0.utf8) } }
    }

    private mutating func visit(_ part: MIMEPart, in raw: [UInt8]) {
        if !part.children.isEmpty {
            for child in part.children { visit(child, in: raw) }
            return
        }
        let type = part.contentType.value
        let isAttachment = part.disposition?.value == "attachment" || part.fileName != nil
        if !isAttachment, type == "text/plain" || type == "text/html", (type == "text/plain" ? plainUTF8 : htmlUTF8) == nil {
            let text = decodeText(part, in: raw)
            if type == "text/plain" { plainUTF8 = text } else { htmlUTF8 = text }
            return
        }
        attachments.append(attachment(part, in: raw))
    }

    /// The part's text as UTF-8 with LF line ends. Quoted-printable, most text's encoding, is decoded, given LF line
    /// ends and checked for UTF-8 in one pass; other encodings take a pass for each.
    private mutating func decodeText(_ part: MIMEPart, in raw: [UInt8]) -> [UInt8] {
        let label = part.contentType.parameters["charset"] ?? "us-ascii"
        let bytes: [UInt8]
        let known: Bool?
        if part.transferEncoding == "quoted-printable" {
            let decoded = TransferEncoding.decodeQuotedPrintable(raw[part.body], lineFeeds: true)
            if !decoded.clean { flags.insert(.invalidQuotedPrintable) }
            (bytes, known) = (decoded.bytes, decoded.utf8)
        } else {
            (bytes, known) = (Self.unixLineEndings(decodedBody(part, in: raw)), nil)
        }
        let (text, undecodable) = Charset.decodeToUTF8(bytes, known: known, label: label, flags: &flags)
        if undecodable {
            // Kept as bytes: the customer gets the original text, with its own line ends, as an attachment too.
            let original = decodedBody(part, in: raw)
            attachments.append(Attachment(
                fileName: nil, contentType: "\(part.contentType.value); charset=\(label)", disposition: "inline",
                contentID: nil, size: original.count, content: .bytes(original)
            ))
        }
        return text
    }

    /// CRLF becomes LF, as receivers of JSON expect; the attachment copy of undecodable text keeps CRLF.
    static func unixLineEndings(_ bytes: [UInt8]) -> [UInt8] {
        guard var carriageReturn = bytes.firstIndex(of: 0x0D, from: 0) else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var start = 0
        while true {
            if carriageReturn + 1 < bytes.count, bytes[carriageReturn + 1] == 0x0A {
                output.append(contentsOf: bytes[start..<carriageReturn])
                start = carriageReturn + 1
            }
            guard let next = bytes.firstIndex(of: 0x0D, from: carriageReturn + 1) else { break }
            carriageReturn = next
        }
        output.append(contentsOf: bytes[start...])
        return output
    }

    private mutating func attachment(_ part: MIMEPart, in raw: [UInt8]) -> Attachment {
        let content: Attachment.Content
        let size: Int
        if part.transferEncoding == "base64", let lines = Base64Lines(checking: raw[part.body]) {
            content = .base64(lines)
            size = lines.decodedSize
        } else {
            let bytes = decodedBody(part, in: raw)
            content = .bytes(bytes)
            size = bytes.count
        }
        return Attachment(
            fileName: part.fileName, contentType: part.contentType.value,
            disposition: part.disposition?.value ?? "attachment", contentID: part.contentID, size: size, content: content
        )
    }

    /// The body with its Content-Transfer-Encoding undone.
    private mutating func decodedBody(_ part: MIMEPart, in raw: [UInt8]) -> [UInt8] {
        let body = raw[part.body]
        switch part.transferEncoding {
        case "base64":
            let (bytes, clean) = TransferEncoding.decodeBase64(body)
            if !clean { flags.insert(.invalidBase64) }
            return bytes
        case "quoted-printable":
            let (bytes, clean, _) = TransferEncoding.decodeQuotedPrintable(body)
            if !clean { flags.insert(.invalidQuotedPrintable) }
            return bytes
        case "7bit", "8bit", "binary", "":
            return Array(body)
        default:
            flags.insert(.unknownTransferEncoding)
            return Array(body)
        }
    }
}

extension MessageContent.Attachment {
    /// The attachment's decoded bytes (base64 text passed through for the payload is decoded here).
    public var decodedBytes: [UInt8] {
        switch content {
        case .bytes(let bytes): bytes
        case .base64(let lines): TransferEncoding.decodeBase64(lines.source).bytes
        }
    }
}

/// One entity of a message (RFC 2045): its header fields, its content type, and either its body or its
/// child parts. Bodies are ranges into the message bytes; nothing is decoded until asked for.
public struct MIMEPart: Sendable {
    public var headers: [MIMEHeaderField]
    public var contentType: MIMEHeaderValue
    public var disposition: MIMEHeaderValue?
    /// Lower-cased, `7bit` when absent.
    public var transferEncoding: String
    /// Where the encoded body lies in the message.
    public var body: Range<Int>
    public var children: [MIMEPart]

    /// `text/plain` when the part does not say (RFC 2045 section 5.2).
    public static let defaultContentType = MIMEHeaderValue(value: "text/plain", parameters: ["charset": "us-ascii"])

    public var isMultipart: Bool { contentType.value.hasPrefix("multipart/") }

    /// The file name from Content-Disposition `filename`, else Content-Type `name`.
    public var fileName: String? {
        (disposition?.parameters["filename"] ?? contentType.parameters["name"]).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `Content-ID` without its angle brackets.
    public var contentID: String? {
        guard let field = headers.first(named: "Content-ID") else { return nil }
        var id = Substring(field.value)
        if id.hasPrefix("<") && id.hasSuffix(">") && id.count >= 2 { id = id.dropFirst().dropLast() }
        return id.isEmpty ? nil : String(id)
    }
}

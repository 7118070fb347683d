/// Something about a message that did not follow the RFCs. The parser never fails: it reads what it can
/// and says here what it had to guess. The flags travel in the payload and the metadata record.
public enum MIMEFlag: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    /// The message starts with a body line: there is no header block at all.
    case noHeaders = "no_headers"
    /// A line in a header block is not a header field; the body was taken to start there.
    case missingHeaderSeparator = "missing_header_separator"
    /// Header bytes that are neither ASCII nor UTF-8 (read as Windows-1252).
    case invalidHeaderBytes = "invalid_header_bytes"
    /// An RFC 2047 encoded word that could not be decoded cleanly.
    case invalidEncodedWord = "invalid_encoded_word"
    /// A Content-Type or Content-Disposition parameter that could not be read cleanly.
    case malformedParameter = "malformed_parameter"
    /// A multipart part without a boundary parameter; its body was kept as one part.
    case missingBoundary = "missing_boundary"
    /// A multipart body in which the boundary never occurs.
    case boundaryNotFound = "boundary_not_found"
    /// A multipart body whose closing boundary is missing: the message was probably cut off.
    case missingClosingBoundary = "missing_closing_boundary"
    /// Multiparts nested deeper than the parser follows; the deepest were kept as attachments.
    case nestingTooDeep = "nesting_too_deep"
    /// base64 content with bytes outside the alphabet or a broken end.
    case invalidBase64 = "invalid_base64"
    /// quoted-printable content with a broken `=` escape.
    case invalidQuotedPrintable = "invalid_quoted_printable"
    /// A Content-Transfer-Encoding the parser does not know; the content was taken as it is.
    case unknownTransferEncoding = "unknown_transfer_encoding"
    /// A charset the parser does not decode; the text is shown as UTF-8 and its bytes kept as an attachment.
    case unknownCharset = "unknown_charset"
    /// Bytes that are not valid in the declared charset (shown as U+FFFD or read as UTF-8/Windows-1252).
    case invalidCharsetData = "invalid_charset_data"
    /// No `From:` header.
    case missingFrom = "missing_from"
    /// No `Date:` header.
    case missingDate = "missing_date"
    /// No `Message-ID:` header.
    case missingMessageID = "missing_message_id"

    public static func < (lhs: MIMEFlag, rhs: MIMEFlag) -> Bool { lhs.rawValue < rhs.rawValue }
}

import Foundation

/// A delivery status notification (RFC 3464) telling a sender that a message could not be delivered:
/// `multipart/report` with a human-readable part, the `message/delivery-status` part and the original
/// message's header (`text/rfc822-headers`), sent from the null reverse path.
public struct DeliveryStatusNotification: Sendable {
    public var reportingHost: String
    /// The envelope sender, who receives the notification.
    public var sender: String
    public var recipient: String
    public var arrivalDate: Date
    /// An RFC 3463 status such as `5.4.7` (delivery time expired).
    public var status: String
    /// Why delivery failed, in words.
    public var reason: String
    public var originalHeader: [UInt8]
    public var messageID: String

    public init(
        reportingHost: String, sender: String, recipient: String, arrivalDate: Date, status: String, reason: String,
        originalHeader: [UInt8], messageID: String
    ) {
        self.reportingHost = reportingHost
        self.sender = sender
        self.recipient = recipient
        self.arrivalDate = arrivalDate
        self.status = status
        self.reason = reason
        self.originalHeader = originalHeader
        self.messageID = messageID
    }

    /// The most of a message's header a notification carries back; a longer header is cut at a line's end.
    public static let headerLimit = 16 * 1024

    /// The header block of `message` (everything before the first empty line, CRLF or bare LF), at most
    /// `limit` bytes and cut at the end of a line: never the body, so a notification cannot carry a sender's
    /// text to whoever the envelope names (backscatter).
    public static func header(of message: [UInt8], limit: Int = headerLimit) -> [UInt8] {
        var index = 0
        var lastLineEnd = 0
        while index < message.count, index < limit {
            if message[index] == 0x0A {
                lastLineEnd = index + 1
                let next = index + 1
                if next < message.count, message[next] == 0x0A { return Array(message[..<next]) }
                if next + 1 < message.count, message[next] == 0x0D, message[next + 1] == 0x0A { return Array(message[..<next]) }
            }
            index += 1
        }
        if index >= message.count { return message }
        return Array(message[..<lastLineEnd])
    }

    /// The whole message, CRLF line endings, ready for DATA (not yet dot-stuffed).
    public func encoded(now: Date = Date(), boundary: String = "=_meridian_" + UUID().uuidString) -> [UInt8] {
        let date = Self.rfc5322(now)
        let reason = self.reason.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        var lines = [
            "From: Mail Delivery System <MAILER-DAEMON@\(reportingHost)>",
            "To: <\(sender)>",
            "Subject: Undelivered Mail Returned to Sender",
            "Date: \(date)",
            "Message-ID: <dsn.\(messageID)@\(reportingHost)>",
            "Auto-Submitted: auto-replied",
            "MIME-Version: 1.0",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=\"\(boundary)\"",
            "",
            "This is a delivery status notification (RFC 3464).",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=utf-8",
            "",
            "This is the mail system at \(reportingHost).",
            "",
            "Your message to <\(recipient)> could not be delivered to the recipient's webhook:",
            "",
            "    \(reason)",
            "",
            "The message's header is attached.",
            "",
            "--\(boundary)",
            "Content-Type: message/delivery-status",
            "",
            "Reporting-MTA: dns; \(reportingHost)",
            "X-Meridian-Queue-ID: \(messageID)",
            "Arrival-Date: \(Self.rfc5322(arrivalDate))",
            "",
            "Final-Recipient: rfc822; \(recipient)",
            "Action: failed",
            "Status: \(status)",
            "Diagnostic-Code: X-Webhook; \(reason)",
            "Last-Attempt-Date: \(date)",
            "",
            "--\(boundary)",
            "Content-Type: text/rfc822-headers",
            "", "",
        ].joined(separator: "\r\n").utf8.map { $0 }
        lines += originalHeader
        if !originalHeader.suffix(2).elementsEqual([0x0D, 0x0A]) { lines += [0x0D, 0x0A] }
        lines += Array("\r\n--\(boundary)--\r\n".utf8)
        return lines
    }

    /// A `Date:` header value (RFC 5322), in UTC.
    public static func rfc5322(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

import AsyncHTTPClient
import Foundation
import MeridianCore
import NIOCore

/// Asks rspamd, running beside the node in the region, what it makes of a message: a POST of the raw message
/// to its `/checkv2` with the envelope in headers (rspamd's HTTP protocol). The message never leaves the
/// operator's servers; rspamd's own SPF, DKIM and DMARC modules should be off, since the node checks those.
public struct RspamdClient: Sendable, CustomStringConvertible {
    /// The normal worker's base URL, such as `http://127.0.0.1:11333`.
    public let url: String
    public let timeout: TimeAmount
    static let answerLimit = 1024 * 1024

    public init?(url: String, timeout: TimeAmount) {
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else { return nil }
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.timeout = timeout
    }

    public var description: String { url }

    func check(_ data: [UInt8], transaction: SMTPTransaction, queueID: String) async -> SpamScan {
        var request = HTTPClientRequest(url: url + "/checkv2")
        request.method = .POST
        request.headers.add(name: "IP", value: transaction.remoteAddress)
        request.headers.add(name: "Helo", value: Self.headerSafe(transaction.helo))
        request.headers.add(name: "From", value: Self.headerSafe(transaction.from.map(String.init(describing:)) ?? ""))
        for recipient in transaction.recipients { request.headers.add(name: "Rcpt", value: Self.headerSafe(recipient.mailbox.description)) }
        request.headers.add(name: "Queue-Id", value: queueID)
        request.headers.add(name: "Content-Type", value: "message/rfc822")
        request.body = .bytes(ByteBuffer(bytes: data))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: Self.answerLimit)
            guard response.status.code == 200 else { return .failed("the spam scanner answered HTTP \(response.status.code)") }
            return SpamScan(rspamdAnswer: Array(buffer: body))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .failed("the spam scanner did not answer within \(timeout.nanoseconds / 1_000_000_000) s")
        } catch {
            return .failed("the spam scanner is unreachable: \(error)")
        }
    }

    /// Header values carry no line breaks or other control characters.
    static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.prefix(512))
    }
}

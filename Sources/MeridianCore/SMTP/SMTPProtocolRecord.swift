import Foundation

/// One SMTP session as the node's protocol log keeps it (Cleanmail keeps raw protocol logs 12 months, read by
/// a small group of administrators): who connected, when, with which TLS, and every command and reply with its
/// time, never the message content. One JSON line per session.
public struct SMTPProtocolRecord: Sendable, Codable, Equatable {
    public struct Line: Sendable, Codable, Equatable {
        /// Milliseconds since the session began.
        public var at: Int
        /// `C` for what the client sent, `S` for the server's reply, `T` for the TLS handshake.
        public var from: String
        public var text: String

        public init(at: Int, from: String, text: String) {
            self.at = at
            self.from = from
            self.text = text
        }
    }

    public var session: String
    public var node: String
    public var startedAt: Date
    public var endedAt: Date?
    public var clientIP: String
    public var tlsVersion: String?
    public var tlsCipher: String?
    public var lines: [Line]

    public init(session: String, node: String, startedAt: Date, clientIP: String) {
        self.session = session
        self.node = node
        self.startedAt = startedAt
        self.clientIP = clientIP
        self.lines = []
    }

    enum CodingKeys: String, CodingKey {
        case session, node, startedAt = "started_at", endedAt = "ended_at", clientIP = "client_ip", tlsVersion = "tls_version"
        case tlsCipher = "tls_cipher", lines
    }

    /// Whether the session names `address` in a command (MAIL FROM, RCPT TO), compared without case.
    public func mentions(_ address: String) -> Bool {
        let needle = address.lowercased()
        return lines.contains { $0.from == "C" && $0.text.lowercased().contains(needle) }
    }

    /// Sessions kept per session at most: a client that sends thousands of commands is logged up to here.
    public static let lineLimit = 2000
}

extension SMTPProtocolRecord {
    /// The record as one line of JSON and a line feed, its keys sorted and its times in whole UTC seconds: what
    /// `JSONEncoder` with `.iso8601` and `.sortedKeys` writes, and what `JSONDecoder` with `.iso8601` reads back.
    /// Written by hand because the node writes one per session, and `JSONEncoder` took a tenth of its CPU
    /// under load (docs/benchmarks.md, "Inbound hygiene").
    public var jsonLine: [UInt8] {
        var json = JSONWriter(capacity: 256 + lines.count * 64)
        json.beginObject()
        json.field("client_ip", clientIP)
        if let endedAt { json.field("ended_at", ISOTime.string(endedAt)) }
        json.key("lines")
        json.beginArray()
        for line in lines {
            json.beginObject()
            json.field("at", line.at)
            json.field("from", line.from)
            json.field("text", line.text)
            json.endObject()
        }
        json.endArray()
        json.field("node", node)
        json.field("session", session)
        json.field("started_at", ISOTime.string(startedAt))
        if let tlsCipher { json.field("tls_cipher", tlsCipher) }
        if let tlsVersion { json.field("tls_version", tlsVersion) }
        json.endObject()
        return json.bytes + [0x0A]
    }
}


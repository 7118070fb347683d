import NIOCore
import NIOExtras
import NIOPosix

/// A line-at-a-time SMTP client over a real loopback connection (SwiftNIO), for tests that speak the protocol
/// themselves: each call sends a line and reads one reply, multiline replies joined.
struct SMTPTestClient {
    private var lines: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    /// Connects to `port`, runs `body` with the client, and closes the connection.
    static func withConnection<R: Sendable>(port: Int, _ body: (inout SMTPTestClient) async throws -> R) async throws -> R {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var client = SMTPTestClient(lines: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&client)
        }
    }

    /// The next reply: its code and its text; nil when the server closed the connection.
    mutating func reply() async throws -> (code: Int, text: String)? {
        var text: [String] = []
        while true {
            guard var line = try await lines.next() else { return nil }
            let string = line.readString(length: line.readableBytes) ?? ""
            text.append(string)
            let bytes = Array(string.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
        }
        return (Int(text.last?.prefix(3) ?? "") ?? 0, text.joined(separator: "\n"))
    }

    /// Sends a line (CRLF added) and reads the reply.
    @discardableResult
    mutating func send(_ line: String) async throws -> (code: Int, text: String)? {
        try await outbound.write(ByteBuffer(string: line + "\r\n"))
        return try await reply()
    }
}

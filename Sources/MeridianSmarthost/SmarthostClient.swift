import NIOCore
import NIOExtras
import NIOPosix

/// A minimal SMTP client that hands one message to the smarthost (plain SMTP on a private network). Nodes send
/// DSNs through it, the coordinator its notices to customers.
public enum SmarthostClient {
    public static func send(_ message: [UInt8], from: String, to: String, via smarthost: Smarthost, helo: String) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: smarthost.host, port: smarthost.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineBasedFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await Task.sleep(for: .seconds(60))
                throw SmarthostError(description: "the smarthost \(smarthost) did not finish within 60 s")
            }
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    var lines = inbound.makeAsyncIterator()
                    func expect(_ accepted: ClosedRange<Int>, after command: String) async throws {
                        var text: [String] = []
                        while true {
                            guard var line = try await lines.next() else {
                                throw SmarthostError(description: "the smarthost closed the connection after \(command)")
                            }
                            let string = line.readString(length: line.readableBytes) ?? ""
                            text.append(string)
                            let bytes = Array(string.utf8)
                            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
                        }
                        guard let code = Int(text.last?.prefix(3) ?? ""), accepted.contains(code) else {
                            throw SmarthostError(description: "the smarthost answered \(command) with: \(text.joined(separator: " | "))")
                        }
                    }
                    func send(_ command: String) async throws {
                        try await outbound.write(ByteBuffer(string: command + "\r\n"))
                    }
                    try await expect(220...220, after: "connecting")
                    try await send("EHLO \(helo)")
                    try await expect(250...250, after: "EHLO")
                    try await send("MAIL FROM:<\(from)>")
                    try await expect(250...250, after: "MAIL FROM")
                    try await send("RCPT TO:<\(to)>")
                    try await expect(250...251, after: "RCPT TO")
                    try await send("DATA")
                    try await expect(354...354, after: "DATA")
                    try await outbound.write(ByteBuffer(bytes: dotStuffed(message)))
                    try await expect(250...250, after: "the message")
                    try await send("QUIT")
                    _ = try? await lines.next()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The content with leading dots doubled and the `CRLF.CRLF` terminator.
    static func dotStuffed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 16)
        var atLineStart = true
        for byte in message {
            if atLineStart && byte == UInt8(ascii: ".") { out.append(byte) }
            out.append(byte)
            atLineStart = byte == 0x0A
        }
        if !out.suffix(2).elementsEqual([0x0D, 0x0A]) { out += [0x0D, 0x0A] }
        out += Array(".\r\n".utf8)
        return out
    }
}

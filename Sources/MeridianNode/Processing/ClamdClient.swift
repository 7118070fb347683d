import MeridianCore
import NIOCore
import NIOPosix

/// Asks clamd, running beside the node in the region, whether bytes carry a virus: its `INSTREAM` command
/// over TCP (the bytes in chunks, each behind its length, ended by a zero length), one connection per scan.
public struct ClamdClient: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let timeout: TimeAmount
    static let chunk = 64 * 1024

    /// `HOST:PORT`; nil when it is not one.
    public init?(address: String, timeout: TimeAmount) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65_535).contains(port)
        else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The virus found, nil when clean; throws ``Failure`` saying why there is no verdict.
    func scan(_ bytes: ArraySlice<UInt8>) async throws -> String? {
        let timeout = self.timeout
        let description = self.description
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { try await self.exchange(bytes) }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(timeout.nanoseconds))
                throw Failure(description: "the virus scanner at \(description) did not answer within \(timeout.nanoseconds / 1_000_000_000) s")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func exchange(_ bytes: ArraySlice<UInt8>) async throws -> String? {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        } catch {
            throw Failure(description: "the virus scanner at \(self) is unreachable: \(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: Array("zINSTREAM\0".utf8)))
            var start = bytes.startIndex
            while start < bytes.endIndex {
                let end = min(start + Self.chunk, bytes.endIndex)
                var buffer = ByteBuffer()
                buffer.writeInteger(UInt32(end - start))
                buffer.writeBytes(bytes[start..<end])
                try await outbound.write(buffer)
                start = end
            }
            var last = ByteBuffer()
            last.writeInteger(UInt32(0))
            try await outbound.write(last)
            var reply: [UInt8] = []
            for try await chunk in inbound {
                reply += chunk.readableBytesView
                if reply.contains(0) || reply.count > 4096 { break }
            }
            let text = String(decoding: reply.prefix(while: { $0 != 0 }), as: UTF8.self)
            switch VirusScan.clamdVerdict(text) {
            case .success(let virus): return virus
            case .failure(let error): throw Failure(description: error.description)
            }
        }
    }
}

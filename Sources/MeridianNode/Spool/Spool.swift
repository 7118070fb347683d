import Foundation
import Logging
import MeridianCore
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The durable queue of accepted messages: append-only segment files with group commit.
///
/// Sessions that finish DATA at the same time share one `write` and one `fdatasync`: `append` returns only
/// once the record is on disk, and only then does the session answer 250. A record is
/// `"MRS1" | length | CRC-32 | header length | header JSON | message`, so a record torn by a crash fails its
/// checksum and is dropped on recovery (it never got its 250). Completed deliveries are noted in a
/// `.done` file beside each segment; a segment is deleted once every recipient in it is done.
public final class Spool: @unchecked Sendable {
    public let directory: String
    private let segmentLimit: Int
    private let logger: Logger
    private let queue = DispatchQueue(label: "meridian.spool.writer")
    private let lock = NIOLock()

    // Guarded by `lock`.
    private var writer: SegmentWriter?
    private var lastSegment = 0
    private var pending: [PendingWrite] = []
    private var flushing = false
    private var outstanding: [Int: Int] = [:]
    private var messages: [String: Location] = [:]
    private var doneFiles: [Int: Int32] = [:]

    struct Location {
        var segment: Int
        var offset: Int
        var length: Int
        /// The recipients (by index) not yet finished.
        var pending: Set<Int>
    }

    private struct PendingWrite {
        var id: String
        var recipients: Int
        var bytes: [UInt8]
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct SegmentWriter {
        var number: Int
        var descriptor: Int32
        var size: Int
    }

    /// A message found on disk at start whose delivery is not finished.
    public struct Recovered: Sendable {
        public var message: SpooledMessage
        /// The recipients (by index) still to deliver.
        public var pendingRecipients: [Int]
    }

    static let magic: [UInt8] = Array("MRS1".utf8)
    static let recordHeaderSize = 12

    public init(directory: String, segmentLimit: Int = 64 << 20, logger: Logger) throws {
        self.directory = directory
        self.segmentLimit = segmentLimit
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        if let writer { close(writer.descriptor) }
        for descriptor in doneFiles.values { close(descriptor) }
    }

    private func path(_ segment: Int, _ suffix: String) -> String {
        (directory as NSString).appendingPathComponent(String(format: "segment-%08d.%@", segment, suffix))
    }

    // MARK: - Recovery

    /// Reads every segment and returns the deliveries left to do. New records go to a fresh segment.
    public func recover() throws -> [Recovered] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        let segments = names.compactMap { name -> Int? in
            guard name.hasPrefix("segment-"), name.hasSuffix(".log") else { return nil }
            return Int(name.dropFirst("segment-".count).dropLast(".log".count))
        }.sorted()
        var recovered: [Recovered] = []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        lock.withLock {
            outstanding = [:]
            messages = [:]
        }
        for segment in segments {
            guard let data = FileManager.default.contents(atPath: path(segment, "log")) else {
                throw NodeError(.spoolIO, "spool: cannot read \(path(segment, "log"))")
            }
            let done = Set(
                (FileManager.default.contents(atPath: path(segment, "done")).flatMap { String(data: $0, encoding: .utf8) } ?? "")
                    .split(separator: "\n").map(String.init))
            let bytes = [UInt8](data)
            var offset = 0
            var open = 0
            while offset < bytes.count {
                guard let record = Self.readRecord(bytes, at: offset) else {
                    logger.warning(
                        "spool: dropped a torn record at the end of a segment (written during a crash, never acknowledged)",
                        metadata: ["segment": "\(segment)", "offset": "\(offset)", "bytes": "\(bytes.count - offset)"])
                    break
                }
                defer { offset = record.next }
                if bytes[record.header].elementsEqual(Self.tombstone) { continue }
                guard let message = try? decoder.decode(SpooledMessage.self, from: Data(bytes[record.header])) else {
                    logger.error("spool: a record's header does not decode; skipped", metadata: ["segment": "\(segment)", "offset": "\(offset)"])
                    continue
                }
                let left = message.recipients.indices.filter { !done.contains("\(message.id) \($0)") }
                guard !left.isEmpty else { continue }
                open += left.count
                lock.withLock {
                    messages[message.id] = Location(segment: segment, offset: offset, length: record.next - offset, pending: Set(left))
                }
                recovered.append(Recovered(message: message, pendingRecipients: left))
            }
            if open == 0 {
                unlink(path(segment, "log"))
                unlink(path(segment, "done"))
            } else {
                lock.withLock { outstanding[segment] = open }
            }
        }
        try lock.withLock {
            lastSegment = segments.last ?? 0
            try rotate()
        }
        return recovered
    }

    /// The record at `offset`: its header and message ranges and where the next record starts; nil when the
    /// bytes there are not a whole record with a matching checksum.
    static func readRecord(_ bytes: [UInt8], at offset: Int) -> (header: Range<Int>, body: Range<Int>, next: Int)? {
        guard bytes.count - offset >= recordHeaderSize, Array(bytes[offset..<offset + 4]) == magic else { return nil }
        let length = Int(readUInt32(bytes, offset + 4))
        let checksum = readUInt32(bytes, offset + 8)
        let start = offset + recordHeaderSize
        guard length >= 4, bytes.count - start >= length, CRC32.checksum(bytes[start..<start + length]) == checksum else { return nil }
        let headerLength = Int(readUInt32(bytes, start))
        guard headerLength <= length - 4 else { return nil }
        let header = start + 4..<start + 4 + headerLength
        return (header, header.upperBound..<start + length, start + length)
    }

    private static func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    static func encodeRecord(header: [UInt8], body: [UInt8]) -> [UInt8] {
        func append(_ value: UInt32, to bytes: inout [UInt8]) {
            bytes.append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)])
        }
        var payload: [UInt8] = []
        payload.reserveCapacity(4 + header.count + body.count)
        append(UInt32(header.count), to: &payload)
        payload.append(contentsOf: header)
        payload.append(contentsOf: body)
        var record = magic
        record.reserveCapacity(recordHeaderSize + payload.count)
        append(UInt32(payload.count), to: &record)
        append(CRC32.checksum(payload), to: &record)
        record.append(contentsOf: payload)
        return record
    }

    // MARK: - Appending

    /// Writes the message and returns once it is on disk (fsync'd). Throws a ``NodeError`` (`spoolFull`, `spoolIO`) otherwise; then
    /// nothing of it counts as spooled.
    public func append(_ message: SpooledMessage, data: [UInt8]) async throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let record = Self.encodeRecord(header: Array(try encoder.encode(message)), body: data)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = lock.withLock { () -> Bool in
                pending.append(PendingWrite(id: message.id, recipients: message.recipients.count, bytes: record, continuation: continuation))
                guard !flushing else { return false }
                flushing = true
                return true
            }
            if start { queue.async { self.flushLoop() } }
        }
    }

    /// Writes whatever is pending as one batch, syncs, answers every writer in it, and repeats until idle.
    private func flushLoop() {
        while true {
            let batch: [PendingWrite] = lock.withLock {
                let batch = pending
                pending = []
                if batch.isEmpty { flushing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            let result = lock.withLock { () -> Result<(segment: Int, start: Int), NodeError> in
                do {
                    if writer == nil || writer!.size >= segmentLimit { try rotate() }
                    return .success((writer!.number, writer!.size))
                } catch let error as NodeError {
                    return .failure(error)
                } catch {
                    return .failure(NodeError(.spoolIO, "spool: \(error)"))
                }
            }
            switch result {
            case .failure(let error):
                for write in batch { write.continuation.resume(throwing: error) }
            case .success(let (segment, start)):
                let descriptor = lock.withLock { writer!.descriptor }
                var buffer: [UInt8] = []
                buffer.reserveCapacity(batch.reduce(0) { $0 + $1.bytes.count })
                for write in batch { buffer.append(contentsOf: write.bytes) }
                if let error = Self.writeAndSync(descriptor, buffer) {
                    let truncated = ftruncate(descriptor, off_t(start)) == 0
                    lock.withLock {
                        // A segment whose tail could not be cut back gets no more records after the garbage.
                        if !truncated { try? rotate() }
                    }
                    logger.error("spool: write failed; the batch was refused", metadata: ["error": "\(error)", "messages": "\(batch.count)"])
                    for write in batch { write.continuation.resume(throwing: error) }
                } else {
                    lock.withLock {
                        var offset = start
                        for write in batch {
                            messages[write.id] = Location(segment: segment, offset: offset, length: write.bytes.count, pending: Set(0..<write.recipients))
                            outstanding[segment, default: 0] += write.recipients
                            offset += write.bytes.count
                        }
                        writer!.size = start + buffer.count
                    }
                    for write in batch { write.continuation.resume() }
                }
            }
        }
    }

    private static func writeAndSync(_ descriptor: Int32, _ buffer: [UInt8]) -> NodeError? {
        var written = 0
        while written < buffer.count {
            let result = buffer.withUnsafeBytes { raw in
                write(descriptor, raw.baseAddress! + written, buffer.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                return errno == ENOSPC || errno == EDQUOT
                    ? NodeError(.spoolFull, "the spool disk is full") : NodeError(.spoolIO, "spool: \(String(cString: strerror(errno)))")
            }
            written += result
        }
        if fdatasync(descriptor) != 0 {
            return errno == ENOSPC
                ? NodeError(.spoolFull, "the spool disk is full") : NodeError(.spoolIO, "spool: fdatasync: \(String(cString: strerror(errno)))")
        }
        return nil
    }

    /// Starts the next segment. Called with the lock held.
    private func rotate() throws {
        lastSegment += 1
        let next = lastSegment
        if let old = writer {
            close(old.descriptor)
            if outstanding[old.number, default: 0] == 0 { removeSegment(old.number) }
        }
        writer = nil
        writer = try openSegment(next)
    }

    /// Creates a segment file and syncs the directory, so that the file itself survives a crash.
    private func openSegment(_ number: Int) throws -> SegmentWriter {
        let descriptor = open(path(number, "log"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw errno == ENOSPC
                ? NodeError(.spoolFull, "the spool disk is full")
                : NodeError(.spoolIO, "spool: cannot create \(path(number, "log")): \(String(cString: strerror(errno)))")
        }
        let size = Int(lseek(descriptor, 0, SEEK_END))
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
        return SegmentWriter(number: number, descriptor: descriptor, size: max(size, 0))
    }

    // MARK: - Reading and completing

    /// The spooled message and its content.
    public func read(_ messageID: String) throws -> (message: SpooledMessage, data: [UInt8]) {
        guard let location = lock.withLock({ messages[messageID] }) else { throw NodeError(.spoolIO, "spool: message \(messageID) is not in the spool") }
        let descriptor = open(path(location.segment, "log"), O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw NodeError(.spoolIO, "spool: cannot open segment \(location.segment): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: location.length)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, location.length, off_t(location.offset)) }
        guard count == location.length, let record = Self.readRecord(bytes, at: 0) else {
            throw NodeError(.spoolIO, "spool: the record of \(messageID) is damaged")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        let message = try decoder.decode(SpooledMessage.self, from: Data(bytes[record.header]))
        return (message, Array(bytes[record.body]))
    }

    /// Notes that a recipient's delivery is finished (delivered, failed for good, or erased). When the last
    /// recipient of the oldest segments is done, their files go. Finishing a recipient twice does nothing.
    public func complete(_ key: DeliveryKey) {
        lock.withLock {
            guard var location = messages[key.messageID], location.pending.remove(key.recipient) != nil else { return }
            let line = Array("\(key.messageID) \(key.recipient)\n".utf8)
            if doneFiles[location.segment] == nil {
                doneFiles[location.segment] = open(path(location.segment, "done"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            }
            if let descriptor = doneFiles[location.segment], descriptor >= 0 {
                _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress!, line.count) }
            }
            messages[key.messageID] = location.pending.isEmpty ? nil : location
            outstanding[location.segment, default: 1] -= 1
            if outstanding[location.segment] == 0, location.segment != writer?.number {
                removeSegment(location.segment)
            }
        }
    }

    // MARK: - Erasure

    /// The messages with recipients still to deliver, each with those recipients (by index).
    public func pendingMessages() -> [String: Set<Int>] {
        lock.withLock { messages.mapValues(\.pending) }
    }

    /// A record's header that says its message was erased: recovery skips it without a word.
    static let tombstone = Array(#"{"erased":true}"#.utf8)

    /// Erases a message for a data-subject request: its record is overwritten in place, on disk and synced, by a
    /// tombstone of the same length (so the records after it still read), then every recipient still pending is
    /// finished. The content is gone now, not when the segment is next deleted. Returns false for a message not
    /// (or no longer) in the spool.
    public func erase(_ messageID: String) throws -> Bool {
        guard let location = lock.withLock({ messages[messageID] }) else { return false }
        let payloadLength = location.length - Self.recordHeaderSize
        var payload = [UInt8](repeating: 0, count: payloadLength)
        let header = Self.tombstone
        guard payloadLength >= 4 + header.count else { throw NodeError(.spoolIO, "spool: the record of \(messageID) is too short to erase") }
        payload[0] = UInt8(header.count)
        payload.replaceSubrange(4..<4 + header.count, with: header)
        var record = Self.magic
        for value in [UInt32(payloadLength), CRC32.checksum(payload)] {
            record.append(contentsOf: [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 24)])
        }
        record.append(contentsOf: payload)
        // Its own descriptor without O_APPEND, so the write lands at the record's offset, beside the writer's appends.
        let descriptor = open(path(location.segment, "log"), O_WRONLY | O_CLOEXEC)
        if descriptor >= 0 {
            defer { close(descriptor) }
            let written = record.withUnsafeBytes { pwrite(descriptor, $0.baseAddress!, record.count, off_t(location.offset)) }
            guard written == record.count, fdatasync(descriptor) == 0 else {
                throw NodeError(.spoolIO, "spool: cannot overwrite the record of \(messageID): \(String(cString: strerror(errno)))")
            }
        }
        for recipient in location.pending { complete(DeliveryKey(messageID: messageID, recipient: recipient)) }
        return true
    }

    /// Deletes a finished segment and its done file. Called with the lock held.
    private func removeSegment(_ number: Int) {
        outstanding[number] = nil
        if let descriptor = doneFiles.removeValue(forKey: number), descriptor >= 0 { close(descriptor) }
        unlink(path(number, "log"))
        unlink(path(number, "done"))
    }

    /// Recipients accepted and not yet finished.
    public var depth: Int { lock.withLock { outstanding.values.reduce(0, +) } }
}

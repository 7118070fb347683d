import Foundation
import Logging
import MeridianCore
import Testing

@testable import MeridianNode

@Suite("Spool: durable, group-committed, recoverable")
struct SpoolTests {
    static func temporaryDirectory() -> String {
        let path = NSTemporaryDirectory() + "spool-test-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func message(_ id: String, recipients: Int = 1) -> SpooledMessage {
        SpooledMessage(
            id: id, receivedAt: Date(timeIntervalSince1970: 1_790_000_000), remoteIP: "192.0.2.1", helo: "client.test", tls: nil,
            from: "a@sender.example",
            recipients: (0..<recipients).map { .init(address: "r\($0)@acme.example", customer: "cus_a", webhookID: "msg_\(id)_\($0)") },
            configVersion: 3)
    }

    @Test("an erased message is overwritten on disk at once, and recovery skips it without losing its neighbours")
    func erase() async throws {
        let directory = Self.temporaryDirectory()
        let spool = try Spool(directory: directory, logger: Logger(label: "test"))
        _ = try spool.recover()
        for id in ["m1", "m2", "m3"] {
            try await spool.append(Self.message(id, recipients: 2), data: Array("secret body of \(id)\r\n".utf8))
        }
        spool.complete(DeliveryKey(messageID: "m2", recipient: 0))
        #expect(try spool.erase("m2"))
        #expect(try !spool.erase("m2"), "already gone")
        #expect(spool.depth == 4 && spool.pendingMessages()["m2"] == nil)
        spool.complete(DeliveryKey(messageID: "m1", recipient: 0))
        spool.complete(DeliveryKey(messageID: "m1", recipient: 0))
        #expect(spool.depth == 3, "finishing a recipient twice counts once")

        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
        let bytes = try files.map { try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)) }.reduce(Data(), +)
        #expect(bytes.range(of: Data("secret body of m2".utf8)) == nil && bytes.range(of: Data("secret body of m3".utf8)) != nil)

        let recovered = try Spool(directory: directory, logger: Logger(label: "test")).recover()
        #expect(recovered.map(\.message.id).sorted() == ["m1", "m3"])
        #expect(recovered.first { $0.message.id == "m1" }?.pendingRecipients == [1])
    }

    @Test("concurrent appends all land, and a restart finds each pending recipient")
    func appendAndRecover() async throws {
        let directory = Self.temporaryDirectory()
        let spool = try Spool(directory: directory, logger: Logger(label: "test"))
        #expect(try spool.recover().isEmpty)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { try await spool.append(Self.message("m\(index)", recipients: 2), data: Array("body \(index)\r\n".utf8)) }
            }
            try await group.waitForAll()
        }
        #expect(spool.depth == 400)
        spool.complete(DeliveryKey(messageID: "m7", recipient: 0))
        spool.complete(DeliveryKey(messageID: "m8", recipient: 0))
        spool.complete(DeliveryKey(messageID: "m8", recipient: 1))
        let (message, data) = try spool.read("m42")
        #expect(message == Self.message("m42", recipients: 2))
        #expect(data == Array("body 42\r\n".utf8))

        let reopened = try Spool(directory: directory, logger: Logger(label: "test"))
        let recovered = try reopened.recover()
        #expect(recovered.count == 199)
        #expect(recovered.first { $0.message.id == "m7" }?.pendingRecipients == [1])
        #expect(!recovered.contains { $0.message.id == "m8" })
        #expect(reopened.depth == 397)
        #expect(try reopened.read("m199").data == Array("body 199\r\n".utf8))
    }

    @Test("a record torn by a crash is dropped; the ones before it survive")
    func tornTail() async throws {
        let directory = Self.temporaryDirectory()
        let spool = try Spool(directory: directory, logger: Logger(label: "test"))
        _ = try spool.recover()
        try await spool.append(Self.message("whole"), data: Array("whole message".utf8))
        try await spool.append(Self.message("torn"), data: Array(repeating: 0x41, count: 4000))
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).first { $0.hasSuffix(".log") })
        let path = directory + "/" + segment
        let bytes = try #require(FileManager.default.contents(atPath: path))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: path))

        let recovered = try Spool(directory: directory, logger: Logger(label: "test")).recover()
        #expect(recovered.map(\.message.id) == ["whole"])
    }

    @Test("a finished segment is deleted once the writer has moved on")
    func segmentsAreDeleted() async throws {
        let directory = Self.temporaryDirectory()
        let spool = try Spool(directory: directory, segmentLimit: 1024, logger: Logger(label: "test"))
        _ = try spool.recover()
        for index in 0..<10 {
            try await spool.append(Self.message("m\(index)"), data: Array(repeating: 0x42, count: 600))
        }
        let before = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.count
        #expect(before >= 5)
        for index in 0..<10 { spool.complete(DeliveryKey(messageID: "m\(index)", recipient: 0)) }
        let after = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
        #expect(after.count == 1, "only the segment being written stays: \(after)")
        #expect(try Spool(directory: directory, logger: Logger(label: "test")).recover().isEmpty)
    }

    @Test("records encode and decode; a flipped bit fails the checksum")
    func recordChecksum() {
        var record = Spool.encodeRecord(header: Array("{}".utf8), body: Array("data".utf8))
        #expect(Spool.readRecord(record, at: 0) != nil)
        record[record.count - 1] ^= 1
        #expect(Spool.readRecord(record, at: 0) == nil)
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test("doubles from the initial delay, caps at the maximum, jitters over the upper half")
    func schedule() {
        let backoff = Backoff(initial: 60, maximum: 3600)
        #expect(backoff.delay(afterAttempt: 1, random: 1) == 60)
        #expect(backoff.delay(afterAttempt: 1, random: 0) == 30)
        #expect(backoff.delay(afterAttempt: 3, random: 1) == 240)
        #expect(backoff.delay(afterAttempt: 20, random: 1) == 3600)
        #expect(backoff.delay(afterAttempt: 500, random: 0.5) == 2700)
    }

    @Test("the heap hands out the earliest due delivery first")
    func heapOrder() {
        var heap = DueHeap()
        let now = ContinuousClock.now
        for (index, offset) in [5, 1, 9, 3, 7].enumerated() {
            heap.insert(DeliveryKey(messageID: "m\(index)", recipient: 0), due: now + .seconds(offset))
        }
        var order: [String] = []
        while let key = heap.popFirst() { order.append(key.messageID) }
        #expect(order == ["m1", "m3", "m0", "m4", "m2"])
    }
}

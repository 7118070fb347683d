import Foundation
import Logging
import MeridianCore
import NIOConcurrencyHelpers

/// The node's SMTP protocol log: one JSON line per session (``SMTPProtocolRecord``) in a file per day
/// (`DATA-DIR/protocol-log/YYYY-MM-DD.jsonl`, owner-only), written when the session ends. Kept for the region's
/// `smtp_protocol_logs` period (12 months), then deleted by the retention job. Read only through the coordinator,
/// by the `security` role.
public final class SMTPProtocolLog: Sendable {
    let directory: String
    let node: String
    let logger: Logger
    private let open = NIOLockedValueBox<(day: String, handle: FileHandle)?>(nil)

    public init(dataDirectory: String, node: String, logger: Logger) throws {
        directory = (dataDirectory as NSString).appendingPathComponent("protocol-log")
        self.node = node
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try PrivateFile.tighten(directory: directory)
    }

    static func day(_ date: Date) -> String {
        String(ISOTime.string(date).prefix(10))
    }

    /// Appends a finished session to the file of the day it began.
    func write(_ record: SMTPProtocolRecord) {
        let line = record.jsonLine
        let day = Self.day(record.startedAt)
        open.withLockedValue { current in
            if current?.day != day {
                try? current?.handle.close()
                current = nil
                let path = (directory as NSString).appendingPathComponent("\(day).jsonl")
                if !FileManager.default.fileExists(atPath: path) {
                    _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])  // a failure shows below
                }
                guard let handle = FileHandle(forWritingAtPath: path) else {
                    logger.error("protocol log: cannot open \(path); this session is not logged")
                    return
                }
                _ = try? handle.seekToEnd()
                current = (day, handle)
            }
            do {
                try current?.handle.write(contentsOf: line)
            } catch {
                logger.error("protocol log: cannot write: \(error)")
            }
        }
    }

    /// The days kept, oldest first.
    func days() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".jsonl") }.map { String($0.dropLast(".jsonl".count)) }.sorted()
    }

    /// Sessions that began in `since..<until`, matching `clientIP` and naming `address` when given, oldest first.
    func read(since: Date?, until: Date?, clientIP: String?, address: String?, limit: Int) -> [SMTPProtocolRecord] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var found: [SMTPProtocolRecord] = []
        let first = since.map(Self.day), last = until.map(Self.day)
        for day in days() where (first.map { day >= $0 } ?? true) && (last.map { day <= $0 } ?? true) {
            guard let data = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent("\(day).jsonl")) else { continue }
            for line in data.split(separator: 0x0A) {
                guard let record = try? decoder.decode(SMTPProtocolRecord.self, from: line) else { continue }
                if let since, record.startedAt < since { continue }
                if let until, record.startedAt >= until { continue }
                if let clientIP, record.clientIP != clientIP { continue }
                if let address, !record.mentions(address) { continue }
                found.append(record)
                if found.count >= limit { return found }
            }
        }
        return found
    }

    /// Deletes the days that ended before `cutoff`; returns how many files went.
    func expire(before cutoff: Date) -> Int {
        let last = Self.day(cutoff)
        var removed = 0
        for day in days() where day < last {
            open.withLockedValue { current in
                if current?.day == day {
                    try? current?.handle.close()
                    current = nil
                }
            }
            if unlink((directory as NSString).appendingPathComponent("\(day).jsonl")) == 0 { removed += 1 }
        }
        return removed
    }
}

/// The part of a connection's protocol log kept while it is open, on the connection's event loop.
struct SMTPSessionTranscript {
    var record: SMTPProtocolRecord
    let started: ContinuousClock.Instant

    init(node: String, clientIP: String, at date: Date) {
        record = SMTPProtocolRecord(session: ResourceID.make(prefix: "ses", at: date), node: node, startedAt: date, clientIP: clientIP)
        started = .now
    }

    mutating func add(_ from: String, _ text: String) {
        guard record.lines.count < SMTPProtocolRecord.lineLimit else { return }
        let elapsed = ContinuousClock.now - started
        record.lines.append(.init(at: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000), from: from, text: text))
    }
}

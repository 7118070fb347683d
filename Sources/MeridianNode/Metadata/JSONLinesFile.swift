import Foundation
import MeridianCore

/// A file of JSON lines the metadata store keeps beside its database, owner-only because it holds delivery
/// metadata: `metadata-pending.jsonl` (writes the database could not take by shutdown, written at the next
/// start) and `metadata-rejected.jsonl` (writes the database refused for their content, set aside). Retention,
/// erasure, access and backups reach both through it.
struct JSONLinesFile: Sendable {
    let path: String

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    var exists: Bool { FileManager.default.fileExists(atPath: path) }

    /// Every non-empty line, as written.
    func lines() -> [Data] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: 0x0A).filter { !$0.isEmpty }.map { Data($0) }
    }

    /// Appends one value as a line and syncs it; creates the file owner-only first.
    func append(_ value: some Encodable) throws {
        if !exists {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw NodeError(.fileNotWritten, "cannot create \(path)")
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: try Self.encoder.encode(value) + Data([0x0A]))
        try handle.synchronize()
    }

    /// Replaces the whole file with `values`, one a line (written aside, then renamed); removes it when empty.
    func replace(with values: [some Encodable]) throws {
        var data = Data()
        for value in values {
            data.append(try Self.encoder.encode(value))
            data.append(0x0A)
        }
        try replace(lines: data)
    }

    /// Rewrites the file without the lines `drop` picks (given each line lowercased, and its `at` time when it
    /// has one); returns how many went.
    func prune(_ drop: (_ line: String, _ at: Date?) -> Bool) throws -> Int {
        struct Dated: Decodable { var at: Date }
        var kept = Data()
        var dropped = 0
        for line in lines() {
            let at = try? Self.decoder.decode(Dated.self, from: line).at
            if drop(String(decoding: line, as: UTF8.self).lowercased(), at) {
                dropped += 1
            } else {
                kept.append(line)
                kept.append(0x0A)
            }
        }
        if dropped > 0 { try replace(lines: kept) }
        return dropped
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    private func replace(lines data: Data) throws {
        if data.isEmpty {
            remove()
        } else {
            try PrivateFile.replace(data, at: path)
        }
    }
}

import Crypto
import Foundation
import MeridianCore

/// Where a node keeps held messages: one file per message (`DATA-DIR/quarantine/<id>.sealed`), its spool
/// record and content sealed with ChaCha20-Poly1305 under the node's quarantine key (`quarantine.key`, made
/// on first use, owner-only). A copy of the disk or of a backup shows no held mail without the key.
final class QuarantineVault: Sendable {
    let directory: String
    private let key: SymmetricKey

    init(dataDirectory: String) throws {
        directory = (dataDirectory as NSString).appendingPathComponent("quarantine")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try PrivateFile.tighten(directory: directory)
        let keyPath = (dataDirectory as NSString).appendingPathComponent("quarantine.key")
        if let bytes = FileManager.default.contents(atPath: keyPath) {
            guard bytes.count == 32 else { throw NodeError(.fileNotWritten, "\(keyPath) is not a 32-byte key; restore it from a backup or remove it with the quarantine") }
            key = SymmetricKey(data: bytes)
        } else {
            let made = SymmetricKey(size: .bits256)
            try PrivateFile.write(made.withUnsafeBytes { Data($0) }, to: keyPath)
            key = made
        }
    }

    private func path(_ id: String) -> String { (directory as NSString).appendingPathComponent("\(id).sealed") }

    /// Seals and writes the message, synced to disk, before the sender hears 250.
    func hold(_ message: SpooledMessage, data: [UInt8]) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let header = try encoder.encode(message)
        var plain = Data()
        plain.reserveCapacity(4 + header.count + data.count)
        withUnsafeBytes(of: UInt32(header.count).bigEndian) { plain.append(contentsOf: $0) }
        plain.append(header)
        plain.append(contentsOf: data)
        let sealed = try ChaChaPoly.seal(plain, using: key, authenticating: Data(message.id.utf8)).combined
        let temporary = path(message.id) + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else { throw NodeError(.fileNotWritten, "quarantine: cannot create \(temporary)") }
        do {
            try handle.write(contentsOf: sealed)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path(message.id)) == 0 else { throw NodeError(.fileNotWritten, "quarantine: cannot rename \(temporary)") }
        } catch {
            try? handle.close()
            unlink(temporary)
            throw error
        }
    }

    /// The held message and its content; nil when it is not held (released, deleted or expired).
    func open(_ id: String) throws -> (message: SpooledMessage, data: [UInt8])? {
        guard Self.isMessageID(id), let sealed = FileManager.default.contents(atPath: path(id)) else { return nil }
        let plain: Data
        do {
            plain = try ChaChaPoly.open(try ChaChaPoly.SealedBox(combined: sealed), using: key, authenticating: Data(id.utf8))
        } catch {
            throw NodeError(.spoolIO, "quarantine: \(id) does not open with this node's quarantine key")
        }
        guard plain.count >= 4 else { throw NodeError(.spoolIO, "quarantine: \(id) is cut short") }
        let length = Int(plain.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard plain.count >= 4 + length else { throw NodeError(.spoolIO, "quarantine: \(id) is cut short") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        let message = try decoder.decode(SpooledMessage.self, from: plain.subdata(in: 4..<(4 + length)))
        return (message, Array(plain.suffix(from: 4 + length)))
    }

    /// Deletes the held message; deleting one that is not there does nothing.
    func remove(_ id: String) {
        guard Self.isMessageID(id) else { return }
        unlink(path(id))
    }

    /// The ids of every held message.
    func ids() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".sealed") }.map { String($0.dropLast(".sealed".count)) }.sorted()
    }

    /// Meridian's message ids only: a path never comes from a caller's text.
    static func isMessageID(_ id: String) -> Bool {
        id.hasPrefix("eml_") && id.count <= 64 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F }
    }
}

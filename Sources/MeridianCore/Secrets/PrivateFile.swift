import Foundation

/// Writes files only their owner can read: keys, tokens and files of personal data (mode 0600, in a 0700
/// directory when it creates it).
public enum PrivateFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func write(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw WriteError(description: "cannot write \(path)")
        }
    }

    /// Replaces `path` as a whole: the data is written owner-only beside it, then renamed over it, so that a
    /// reader or a crash finds the old file or the new one, never part of one.
    public static func replace(_ data: Data, at path: String) throws {
        let aside = path + ".new"
        try write(data, to: aside)
        guard rename(aside, path) == 0 else { throw WriteError(description: "cannot rename \(aside) to \(path)") }
    }
}

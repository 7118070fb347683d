import Foundation

#if canImport(Glibc)
import Glibc
#endif

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

    /// Makes `directory` owner-only (0700) and every file directly in it too (0600), as the umask of a
    /// `meridian` process makes them: for data left by an older build, or made by hand, before the process uses
    /// it. Only what this user owns is changed, and never a shared directory (one with the sticky bit, as /tmp);
    /// subdirectories are left to whoever keeps them.
    public static func tighten(directory: String) throws {
        var status = stat()
        guard stat(directory, &status) == 0, status.st_uid == geteuid(), status.st_mode & S_ISVTX == 0 else { return }
        if status.st_mode & 0o077 != 0, chmod(directory, 0o700) != 0 {
            throw WriteError(description: "cannot make \(directory) owner-only: \(String(cString: strerror(errno)))")
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            try tighten(file: (directory as NSString).appendingPathComponent(name))
        }
    }

    /// Makes a regular file this user owns owner-only (0600); anything else is left as it is.
    public static func tighten(file path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_uid == geteuid(), status.st_mode & 0o077 != 0 else {
            return
        }
        guard chmod(path, 0o600) == 0 else { throw WriteError(description: "cannot make \(path) owner-only: \(String(cString: strerror(errno)))") }
    }

    /// Replaces `path` as a whole: the data is written owner-only beside it, then renamed over it, so that a
    /// reader or a crash finds the old file or the new one, never part of one.
    public static func replace(_ data: Data, at path: String) throws {
        let aside = path + ".new"
        try write(data, to: aside)
        guard rename(aside, path) == 0 else { throw WriteError(description: "cannot rename \(aside) to \(path)") }
    }

    /// Appends `data` to `path`, creating it owner-only. A crash may leave the last append cut short; a reader of
    /// such a file stops at the last whole record.
    public static func append(_ data: Data, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw WriteError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                guard written > 0 else { throw WriteError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
    }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `DIR/node.lock`, held while the node runs, so that a second node started on the
/// same data or spool directory (a stale process left running, a mistyped flag) stops at once instead of
/// writing the same spool and metadata store. The kernel drops it when the process dies, kill -9 included.
final class DirectoryLock: Sendable {
    private let descriptor: Int32

    init(_ directory: String) throws {
        let path = (directory as NSString).appendingPathComponent("node.lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw NodeError(.directoryInUse, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw NodeError(
                .directoryInUse,
                "\(directory) is in use by another node\(holder.map { $0.isEmpty ? "" : " (pid \($0))" } ?? ""); stop it first, or give this node its own --data-dir and --spool")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }
}

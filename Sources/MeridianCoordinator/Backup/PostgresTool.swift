import Foundation

/// The PostgreSQL client tools (`pg_dump`, `pg_restore`, `psql`) the coordinator's backups run.
enum PostgresTool {
    /// Runs `tool` and returns its standard output; its standard error is the error. The tool's pipes are read
    /// and written on dispatch threads, never on the async pool, while the task waits for it to end.
    static func run(_ tool: String, _ arguments: [String], input: Data?, password: String?) async throws -> Data {
        let candidates = ["/usr/bin/\(tool)"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin/\(tool)" }
        guard let executable = candidates.first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw CoordinatorError(.backupFailed, "\(tool) is not installed (Debian: apt-get install postgresql-client)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        if let password { environment["PGPASSWORD"] = password }
        process.environment = environment
        let output = Pipe(), errors = Pipe(), stdin = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        let (ended, exit) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        process.terminationHandler = { process in
            exit.yield(process.terminationStatus)
            exit.finish()
        }
        try process.run()
        // Both pipes are read while the tool runs, so that neither fills up and blocks it.
        async let out = readToEnd(output.fileHandleForReading)
        async let err = readToEnd(errors.fileHandleForReading)
        if let input { await write(input, to: stdin.fileHandleForWriting) }
        var status: Int32 = -1
        for await code in ended { status = code }
        let (stdout, stderr) = await (out, err)
        guard status == 0 else {
            throw CoordinatorError(.backupFailed, "\(tool) failed (exit \(status)): \(String(decoding: stderr.prefix(2000), as: UTF8.self))")
        }
        return stdout
    }

    private static func readToEnd(_ handle: FileHandle) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: handle.readDataToEndOfFile()) }
        }
    }

    private static func write(_ data: Data, to handle: FileHandle) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                handle.write(data)
                try? handle.close()
                continuation.resume()
            }
        }
    }
}

import ArgumentParser
import Foundation
import Hummingbird
import Logging
import MeridianCoordinator
import MeridianCore
import ServiceLifecycle

/// `meridian up`: the whole system on one machine, in the foreground, on embedded SQLite.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a coordinator (and, once they exist, one node per region) on this machine.",
        discussion: """
            The coordinator listens on 127.0.0.1:8080 with its data under --data-dir. The first start creates \
            an admin token and writes it to DIR/admin-token; later starts reuse the data. Ctrl-C stops.
            """)

    @Option(help: "Where state is kept (SQLite database, master key, admin token).")
    var dataDir = ".meridian"

    @Option(help: "Added to every port, to run several copies side by side.")
    var portOffset = 0

    @Option(help: "The Regions directory (service.yaml and one YAML file per region).")
    var regions = "Regions"

    func run() async throws {
        let logger = makeLogger(label: "meridian.up")
        guard (0...50_000).contains(portOffset) else {
            throw ValidationError("--port-offset must be from 0 to 50000, not \(portOffset)")
        }
        var configuration = CoordinatorConfiguration(
            database: .sqlite(path: (dataDir as NSString).appendingPathComponent("coordinator.sqlite")), dataDirectory: dataDir)
        configuration.port = 8080 + portOffset
        configuration.regionsDirectory = regions
        let url = "http://127.0.0.1:\(configuration.port)"
        let tokenPath = (dataDir as NSString).appendingPathComponent("admin-token")
        try await CoordinatorCommand.serve(configuration, logger: logger) { token in
            say("meridian up: first start; created an admin token")
            printBanner(url: url, token: token.secret, tokenPath: tokenPath)
        } onRunning: { created in
            guard !created else { return }
            let token = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            printBanner(url: url, token: token ?? "(\(tokenPath) is missing; create one with meridian tokens create)", tokenPath: tokenPath)
        }
    }

    private func printBanner(url: String, token: String, tokenPath: String) {
        say("""
            coordinator  \(url)   (admin API under /v1, health at /healthz)
            admin token  \(token)
                         (also in \(tokenPath); the CLI reads it from there)
            nodes        the regional SMTP nodes are not part of this build yet
            stop         Ctrl-C
            """)
    }
}

/// Writes a line to standard output at once, unbuffered, so banners show even when output goes to a file.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

func makeLogger(label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

import ArgumentParser
import Foundation
import MeridianAPI

/// `meridian smtp-log`: SMTP sessions from every node's protocol log, for the `security` role.
struct SMTPLogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smtp-log",
        abstract: "SMTP sessions from every node's protocol log: commands, replies, TLS, never content (the security role; every read audited).")
    @OptionGroup var connection: APIConnection
    @Option(help: "Sessions that began at or after this time (RFC 3339).") var since: String?
    @Option(help: "Sessions that began before this time (RFC 3339).") var until: String?
    @Option(help: "The client's IP address.") var clientIp: String?
    @Option(help: "An address a MAIL FROM or RCPT TO named.") var address: String?
    @Option(help: "Most sessions per node (1 to 1000).") var limit = 100

    func run() async throws {
        func date(_ text: String?, _ name: String) throws -> Date? {
            guard let text else { return nil }
            guard let date = ISO8601DateFormatter().date(from: text) else { throw ValidationError("--\(name) \(text): expected an RFC 3339 time such as 2026-12-01T00:00:00Z") }
            return date
        }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit \(limit): from 1 to 1000") }
        let query = Operations.ListSMTPProtocolLog.Input.Query(
            since: try date(since, "since"), until: try date(until, "until"), clientIp: clientIp, address: address, limit: limit)
        let log = try await connection.withClient { try await $0.listSMTPProtocolLog(query: query).ok.body.json }
        if connection.json { return try printJSON(log) }
        for source in log.sources where source.status != .ok {
            print("note: \(source.region ?? source.url) did not answer (\(source.status.rawValue)); its sessions are not listed")
        }
        for session in log.sessions {
            print("\(session.session)  \(iso(session.startedAt))  \(session.region ?? "")/\(session.node)  client \(session.clientIp)\(session.tlsVersion.map { "  \($0)" } ?? "")")
            for line in session.lines {
                for (index, text) in line.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    print("  \(index == 0 ? String(format: "%6d ms", line.at) : "         ") \(line.from.rawValue) \(text)")
                }
            }
        }
    }
}

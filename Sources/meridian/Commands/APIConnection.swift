import ArgumentParser
import AsyncHTTPClient
import Foundation
import HTTPTypes
import MeridianAPI
import MeridianCore
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// How admin subcommands reach the coordinator: `--url`, and a token from `--token`, `MERIDIAN_TOKEN` or
/// `<data dir>/admin-token`, in that order.
struct APIConnection: ParsableArguments {
    @Option(help: "The coordinator's URL (default: $MERIDIAN_URL or http://127.0.0.1:8080).")
    var url: String?

    @Option(help: "A bearer token (default: $MERIDIAN_TOKEN, then DATA_DIR/admin-token).")
    var token: String?

    @Option(help: "The data directory of meridian up, where admin-token is read from.")
    var dataDir = ".meridian"

    @Flag(help: "Print the API's JSON instead of a table.")
    var json = false

    func resolvedToken() throws -> String {
        if let token { return token }
        if let token = ProcessInfo.processInfo.environment["MERIDIAN_TOKEN"], !token.isEmpty { return token }
        let path = (dataDir as NSString).appendingPathComponent("admin-token")
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        throw ValidationError("no token: pass --token, set MERIDIAN_TOKEN, or run meridian up so that \(path) exists")
    }

    /// The coordinator's base URL, without a trailing slash.
    var baseURL: String {
        publicSite(url)
    }

    /// Runs `body` with a client for the admin API; problems the API returns become CLI errors.
    func withClient<R: Sendable>(_ body: (Client) async throws -> R) async throws -> R {
        let base = baseURL
        guard let serverURL = URL(string: base), serverURL.scheme != nil, serverURL.host != nil else {
            throw ValidationError("--url \(base) is not a URL like http://127.0.0.1:8080")
        }
        let client = Client(
            serverURL: serverURL,
            transport: AsyncHTTPClientTransport(configuration: .init(client: .shared, timeout: .seconds(30))),
            middlewares: [BearerAuthentication(token: try resolvedToken()), ProblemReader()])
        do {
            return try await body(client)
        } catch let error as ClientError {
            if let problem = error.underlyingError as? APIProblem { throw problem }
            throw CLIError("cannot reach the coordinator at \(base): \(error.underlyingError)")
        }
    }
}

/// Prints an API value as indented JSON.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints rows as aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
            .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
}

/// An ISO 8601 time given to `option`, or an error naming the option and the expected form.
func isoDate(_ text: String, option: String) throws -> Date {
    guard let date = ISOTime.date(text) else { throw ValidationError("\(option) \(text) is not an ISO 8601 time such as 2027-01-01T00:00:00Z") }
    return date
}

func iso(_ date: Date?) -> String {
    date.map { ISO8601DateFormatter().string(from: $0) } ?? "-"
}

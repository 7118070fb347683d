import ArgumentParser
import AsyncHTTPClient
import Foundation
import MeridianCoordinator

/// `meridian publish --out DIR`: the public site as static files, fetched from the coordinator so that they are
/// byte for byte what it serves.
struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the public pages (HTML, JSON, Atom, the canary files) as a static site.",
        discussion: "Pages become DIR/<page>/index.html (so /privacy is served from DIR/privacy/), other files keep their names. Any static web server can serve DIR.")
    @Option(help: "The coordinator (default: $MERIDIAN_URL or http://127.0.0.1:8080).") var url: String?
    @Option(help: "The directory to write.") var out: String

    func run() async throws {
        let base = publicSite(url)
        var written = 0
        for (index, path) in PublicSite.paths.enumerated() {
            let response = try await fetchPublic(base + path, limit: 16 << 20)
            if response.status == 404, path.hasPrefix("/.well-known/canary") {
                print("[\(index + 1)/\(PublicSite.paths.count)] \(path): no canary issued yet, skipped")
                continue
            }
            guard response.status == 200 else { throw CLIError("\(base)\(path) answered \(response.status)") }
            let body = response.body
            let file = Self.file(for: path, contentType: response.contentType)
            let target = URL(fileURLWithPath: out).appendingPathComponent(file)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try body.write(to: target)
            written += 1
            print("[\(index + 1)/\(PublicSite.paths.count)] \(path) -> \(target.path) (\(body.count) bytes)")
        }
        print("wrote \(written) files to \(out)")
    }

    /// `/` → `index.html`, `/privacy` → `privacy/index.html`, `/privacy.json` → `privacy.json`.
    static func file(for path: String, contentType: String) -> String {
        if path == "/" { return "index.html" }
        let name = String(path.dropFirst())
        return contentType.hasPrefix("text/html") ? name + "/index.html" : name
    }
}

/// The public site's base URL: `--url`, else `$MERIDIAN_URL`, else the local coordinator; no trailing slash.
func publicSite(_ url: String?) -> String {
    (url ?? ProcessInfo.processInfo.environment["MERIDIAN_URL"] ?? "http://127.0.0.1:8080").trimmingCharacters(in: ["/"])
}

/// GETs a public page (no token); an unreachable site is an error naming the URL, any status is returned.
func fetchPublic(_ url: String, limit: Int) async throws -> (status: Int, contentType: String, body: Data) {
    do {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = Data(buffer: try await response.body.collect(upTo: limit))
        return (Int(response.status.code), response.headers.first(name: "Content-Type") ?? "", body)
    } catch {
        throw CLIError("cannot fetch \(url): \(error)")
    }
}

import Foundation
import Hummingbird

/// The peer of the API benchmark (docs/benchmarks.md): a bare Hummingbird route that answers every GET with the
/// same bytes the coordinator gave for the route under test, with no token check, database, audit or OpenAPI
/// layer. `api-baseline --port 8099 --body FILE`.
@main
struct APIBaseline {
    static func main() async throws {
        let arguments = CommandLine.arguments
        func value(_ flag: String) -> String? {
            arguments.firstIndex(of: flag).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
        }
        guard let port = value("--port").flatMap(Int.init), let path = value("--body"), let body = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("usage: api-baseline --port PORT --body FILE\n".utf8))
            exit(2)
        }
        let bytes = ByteBuffer(bytes: body)
        let router = Router()
        router.get("**") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: bytes))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}

import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// A real HTTP server on loopback standing for a customer's webhook endpoint (Hummingbird, an ephemeral port):
/// `/ok` answers 200 and `/fail` 503; every request is kept.
final class TestWebhookEndpoint: Sendable {
    struct Post: Sendable {
        var path: String
        var headers: [String: String]
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
    }

    private let received = NIOLockedValueBox<[Post]>([])
    private let boundPort = NIOLockedValueBox<Int?>(nil)

    var posts: [Post] { received.withLockedValue { $0 } }
    var port: Int? { boundPort.withLockedValue { $0 } }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port ?? 0)\(path)" }

    /// The server, to run beside the node's services.
    func application() -> some Service {
        let router = Router()
        router.post("/**") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 32 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            // HTTP/1.1's Host header arrives as the :authority pseudo-header.
            headers["Host"] = request.head.authority
            let path = request.uri.path
            self.received.withLockedValue { $0.append(Post(path: path, headers: headers, body: Data(buffer: body))) }
            return Response(status: path == "/fail" ? .serviceUnavailable : .ok, body: .init(byteBuffer: ByteBuffer(string: "thanks")))
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in self.boundPort.withLockedValue { $0 = channel.localAddress?.port } },
            logger: Logger(label: "test.webhook"))
    }
}

import Foundation
import MeridianCore
import NIOPosix
import Testing

@testable import MeridianNode

@Suite("Webhook client: what an endpoint's failure is called")
struct WebhookClientTests {
    @Test("a refused connection is said to be refused, found by its errno, not by the error's text")
    func refused() async throws {
        // A port that was free a moment ago: nothing listens there.
        let socket = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(socket.localAddress?.port)
        try await socket.close()
        let client = WebhookClient(timeout: .seconds(2))
        let result = await client.post(
            url: "http://127.0.0.1:\(port)/hook", body: Array("{}".utf8), webhookID: "msg_1",
            signature: try WebhookSignature(secret: TestNode.secret))
        try await client.shutdown()
        try await client.shutdown()
        #expect(result.outcome == .temporary && result.statusCode == nil && result.text == "connection refused")
    }
}

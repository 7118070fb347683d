import Foundation
import Logging
import MeridianCore
import MeridianSmarthost
import Testing

@testable import MeridianNode

/// The node's SMTP listener in-process, spoken to over real loopback connections.
@Suite("SMTP server: connection limits, and a graceful shutdown that lets a transaction finish")
struct SMTPServerTests {
    @Test("connections over the per-address limit get 421 and are closed; the others are served")
    func perAddressLimit() async throws {
        let test = try TestNode(bundle: try TestNode.bundle(version: 1, customers: [])) { $0.smtp.maxConnectionsPerIP = 2 }
        try await test.run { node in
            let port = try #require(node.smtp.port)
            try await SMTPTestClient.withConnection(port: port) { first in
                #expect(try await first.reply()?.code == 220)
                try await SMTPTestClient.withConnection(port: port) { second in
                    #expect(try await second.reply()?.code == 220)
                    try await SMTPTestClient.withConnection(port: port) { third in
                        let refused = try await third.reply()
                        #expect(refused?.code == 421 && refused?.text.contains("Too many connections") == true)
                        #expect(try await third.reply() == nil, "closed after the reply")
                    }
                    #expect(try await second.send("EHLO client.test")?.code == 250)
                }
            }
        }
    }

    @Test("at shutdown an idle session gets 421 4.3.2 at once, and one in a transaction finishes it first")
    func drain() async throws {
        let endpoint = TestWebhookEndpoint()
        let test = try TestNode(bundle: nil)
        let outcome = try await test.run(alongside: [endpoint.application()]) { node, beginShutdown -> [Int] in
            try await waitUntil("the webhook endpoint is up") { endpoint.port != nil }
            let bundle = try TestNode.bundle(version: 1, customers: [TestNode.customer("cus_acme", domain: "acme.example", webhook: endpoint.url("/ok"))])
            #expect(node.bundles.offer(bundle, from: "test").status == .ack)
            let port = try #require(node.smtp.port)
            return try await SMTPTestClient.withConnection(port: port) { busy in
                _ = try await busy.reply()
                #expect(try await busy.send("EHLO client.test")?.code == 250)
                #expect(try await busy.send("MAIL FROM:<a@sender.example>")?.code == 250)
                return try await SMTPTestClient.withConnection(port: port) { idle in
                    _ = try await idle.reply()
                    // The shutdown begins while one session is inside a transaction.
                    await beginShutdown()
                    let idleReply = try await idle.reply()
                    #expect(idleReply?.code == 421 && idleReply?.text.contains("4.3.2") == true)
                    let codes = [
                        try await busy.send("RCPT TO:<inbox@acme.example>")?.code ?? 0,
                        try await busy.send("DATA")?.code ?? 0,
                        try await busy.send("Subject: last\r\n\r\nThe last message.\r\n.")?.code ?? 0,
                    ]
                    let closing = try await busy.reply()
                    #expect(closing?.code == 421, "after its transaction, the session is closed")
                    return codes
                }
            }
        }
        #expect(outcome == [250, 354, 250])
        #expect(endpoint.posts.count == 1, "the message accepted during the drain was delivered before the node stopped")
    }
}

import Foundation
import Logging
import MeridianCore
import MeridianSmarthost
import Testing

@testable import MeridianNode

/// The delivery queue in-process, with a real SMTP client, the node's real SMTP listener and a real HTTP
/// endpoint as the customer's webhook.
@Suite("Delivery queue: retries, and the config version each attempt was made under")
struct DeliveryQueueTests {
    static let message = Array("From: a@sender.example\r\nTo: inbox@acme.example\r\nSubject: Hello\r\nMessage-ID: <m1@sender.example>\r\n\r\nHi.\r\n".utf8)

    static func send(to node: RegionalNode) async throws {
        let port = try #require(node.smtp.port)
        try await SmarthostClient.send(
            message, from: "a@sender.example", to: "inbox@acme.example", via: Smarthost("127.0.0.1:\(port)")!, helo: "client.test")
    }

    @Test("a message accepted under version 1 and delivered after a change to version 2 is delivered under 2, and says so")
    func versionOfEachAttempt() async throws {
        let endpoint = TestWebhookEndpoint()
        let app = endpoint.application()
        let node = try TestNode(bundle: nil)
        try await node.run(alongside: [app]) { node in
            try await waitUntil("the webhook endpoint is up") { endpoint.port != nil }
            // Version 1 points at an endpoint that is down; version 2, made while the message waits, at one that works.
            let first = try TestNode.bundle(version: 1, customers: [TestNode.customer("cus_acme", domain: "acme.example", webhook: endpoint.url("/fail"))])
            #expect(node.bundles.offer(first, from: "test").status == .ack)
            try await Self.send(to: node)
            try await waitUntil("the first attempt") { endpoint.posts.count >= 1 }
            let second = try TestNode.bundle(version: 2, customers: [TestNode.customer("cus_acme", domain: "acme.example", webhook: endpoint.url("/ok"))])
            #expect(node.bundles.offer(second, from: "test").status == .ack)
            try await waitUntil("the delivery under version 2") { endpoint.posts.contains { $0.path == "/ok" } }

            let failed = try #require(endpoint.posts.first)
            let delivered = try #require(endpoint.posts.last)
            #expect(failed.path == "/fail" && (failed.json["meridian"] as? [String: Any])?["config_version"] as? Int == 1)
            #expect(delivered.path == "/ok" && (delivered.json["meridian"] as? [String: Any])?["config_version"] as? Int == 2)
            #expect(failed.headers["webhook-id"] == delivered.headers["webhook-id"], "every attempt carries the same webhook-id")

            var query = MessageQuery(customerID: "cus_acme")
            query.limit = 1
            try await waitUntil("the record says delivered") { try await node.store.query(query).first?.status == .delivered }
            let record = try #require(try await node.store.query(query).first)
            let (_, attempts) = try #require(try await node.store.delivery(record.key))
            #expect(record.metadata.configVersion == 1, "the version the message was accepted under")
            #expect(attempts.map(\.configVersion) == [1, 2] && attempts.map(\.statusCode) == [503, 200])
        }
    }

    @Test("a delivery due later is woken by its timer, not by polling, and one waiting does not hold up a new one")
    func timerAndDoorbell() async throws {
        let endpoint = TestWebhookEndpoint()
        let app = endpoint.application()
        let node = try TestNode(bundle: nil)
        try await node.run(alongside: [app]) { node in
            try await waitUntil("the webhook endpoint is up") { endpoint.port != nil }
            let bundle = try TestNode.bundle(version: 1, customers: [
                TestNode.customer("cus_down", domain: "down.example", webhook: endpoint.url("/fail")),
                TestNode.customer("cus_acme", domain: "acme.example", webhook: endpoint.url("/ok")),
            ])
            #expect(node.bundles.offer(bundle, from: "test").status == .ack)
            let port = try #require(node.smtp.port)
            try await SmarthostClient.send(Self.message, from: "a@sender.example", to: "x@down.example", via: Smarthost("127.0.0.1:\(port)")!, helo: "t")
            // Retries come about a second apart (the test's backoff), each rung by the queue's timer.
            try await waitUntil("three attempts of the failing delivery") { endpoint.posts.filter { $0.path == "/fail" }.count >= 3 }
            try await Self.send(to: node)
            try await waitUntil("the new message, at once") { endpoint.posts.contains { $0.path == "/ok" } }
            // Only the failing delivery still waits, once the new one's attempt has ended.
            try await waitUntil("the new delivery finished") { await node.queue.pending == 1 }
        }
    }
}

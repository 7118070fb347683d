import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Tells the other coordinator replicas that something changed, through PostgreSQL's LISTEN/NOTIFY on the
/// channel `meridian_replicas`: a change made through one replica's API must wake the leader's config publisher.
/// The notification is a hint, never the data: the receiver reads the database. A replica that has been cut off
/// from the channel (a lost connection) rings every handler once it listens again, since it may have missed some.
/// On SQLite there is one coordinator, and ringing does nothing.
public final class ReplicaBell: Service, Sendable {
    public enum Topic: String, Sendable, CaseIterable {
        /// Something the node bundles depend on changed.
        case config
        /// A token was revoked: cached tokens must be read again.
        case tokens
        /// A customer changed: cached customers must be read again.
        case customers
        /// The sub-processor registry changed: the cached registry must be read again.
        case registry
    }

    static let channel = "meridian_replicas"

    /// This replica's run (``Leadership/incarnation``), which its own notices carry so that it skips them.
    let replica: String
    let client: PostgresClient?
    let logger: Logger
    private let outgoing: AsyncStream<(Topic, [String]?)>
    private let send: AsyncStream<(Topic, [String]?)>.Continuation
    private let handlers = Mutex<[Topic: @Sendable ([String]?) -> Void]>([:])

    public init(replica: String, store: any SQLStore, logger: Logger) {
        self.replica = replica
        self.client = (store as? PostgresStore)?.client
        self.logger = logger
        (outgoing, send) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// Tells the other replicas about `topic`, naming the ids it concerns when given (a notice carries up to
    /// ``mostIDs`` of them, and a longer list is sent as none); returns at once. This replica's own handler is not
    /// called.
    public func ring(_ topic: Topic, ids: [String]? = nil) {
        guard client != nil else { return }
        send.yield((topic, ids.flatMap { $0.count <= Self.mostIDs ? $0 : nil }))
    }

    /// A notice of PostgreSQL carries at most 8,000 bytes; ids are at most 64 bytes.
    static let mostIDs = 100

    /// What to do when another replica rings `topic`.
    public func on(_ topic: Topic, _ handler: @escaping @Sendable () -> Void) {
        handlers.withLock { $0[topic] = { _ in handler() } }
    }

    /// What to do when another replica rings `topic`, with the ids it named (nil: it named none, or notices may have
    /// been missed, so anything may have changed).
    public func on(_ topic: Topic, ids handler: @escaping @Sendable ([String]?) -> Void) {
        handlers.withLock { $0[topic] = handler }
    }

    public func run() async throws {
        guard let client else {
            // A service that returned would stop the group: this one waits for the end with the others.
            try? await gracefulShutdown()
            return
        }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.sendAll(client) }
                group.addTask { await self.listen(client) }
            }
        } onGracefulShutdown: { [send] in
            send.finish()
        }
    }

    private func sendAll(_ client: PostgresClient) async {
        for await (topic, ids) in outgoing {
            let payload = "\(topic.rawValue) \(replica)" + (ids.map { " " + $0.joined(separator: ",") } ?? "")
            do {
                _ = try await client.query("SELECT pg_notify(\(Self.channel), \(payload))", logger: logger)
            } catch {
                logger.warning("replicas: could not tell the others of a change; they catch up on their own", metadata: ["topic": "\(topic.rawValue)", "error": "\(error)"])
            }
        }
    }

    private func listen(_ client: PostgresClient) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown {
                    try await client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            // Listening again after a gap: whatever was missed is handled now.
                            self.handle(Topic.allCases)
                            for try await notification in notifications {
                                let words = notification.payload.split(separator: " ", maxSplits: 2).map(String.init)
                                guard words.count >= 2, words[1] != self.replica, let topic = Topic(rawValue: words[0]) else { continue }
                                self.handle([topic], ids: words.count == 3 ? words[2].split(separator: ",").map(String.init) : nil)
                            }
                        }
                    }
                }
            } catch {
                guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
                logger.warning("replicas: lost the notification channel; listening again in 1 s", metadata: ["error": "\(error)"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            }
        }
    }

    private func handle(_ topics: [Topic], ids: [String]? = nil) {
        let handlers = handlers.withLock { $0 }
        for topic in topics { handlers[topic]?(ids) }
    }
}

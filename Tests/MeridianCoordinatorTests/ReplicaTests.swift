import Foundation
import MeridianCore
import SQLKit
import Synchronization
import Testing

@testable import MeridianCoordinator

@Suite("Replicas: one leader at a time over the shared database, and work items done once")
struct ReplicaTests {
    /// A store that can be cut off from its database, as a replica behind a broken network is.
    final class Severable: SQLStore {
        let inner: any SQLStore
        let cut = Mutex(false)
        init(inner: any SQLStore) { self.inner = inner }
        var kind: StoreKind { inner.kind }

        func withSession<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
            guard !cut.withLock({ $0 }) else { throw CoordinatorError.storeNoConnection(underlying: "cut off by the test") }
            return try await inner.withSession(body)
        }
    }

    /// Leases long enough that a slow machine running every suite at once cannot let one expire between two steps.
    static func leadership(_ name: String, _ store: any SQLStore, lease: Duration = .seconds(2)) -> Leadership {
        Leadership(replica: name, store: store, lease: lease, logger: TestStores.logger)
    }

    @Test("one replica leads; the others follow and know who; a graceful stop hands the lead on at once", arguments: StoreKind.allCases)
    func oneLeader(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let (a, b, c) = (Self.leadership("a", store), Self.leadership("b", store), Self.leadership("c", store))
            #expect(await a.attempt())
            #expect(await !b.attempt())
            #expect(await !c.attempt())
            #expect(a.isLeading && !b.isLeading && !c.isLeading)
            #expect(b.leader?.replica == "a" && c.leader?.replica == "a" && a.leader == b.leader)
            let first = try #require(a.leader?.term)
            // The leader renews: still the same term.
            #expect(await a.attempt())
            #expect(a.leader?.term == first)

            await a.resign()
            #expect(!a.isLeading)
            #expect(await b.attempt())
            #expect(await !a.attempt())
            #expect(await !c.attempt())
            #expect(b.leader?.replica == "b" && b.leader?.term == first + 1 && a.leader?.replica == "b")
            // `b` restarted under the same name (a kill -9, then a start) is another run: it waits for the lease.
            let again = Self.leadership("b", store)
            #expect(await !again.attempt())
            #expect(again.leader?.replica == "b" && again.leader?.incarnation == b.incarnation)
        }
    }

    @Test("a leader that dies is replaced once its lease runs out, and not before; it had stopped by its own clock first", arguments: StoreKind.allCases)
    func deadLeader(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let (a, b) = (Self.leadership("a", store), Self.leadership("b", store))
            #expect(await a.attempt())
            // `a` no longer renews (a kill -9). Within its lease nobody else takes over.
            #expect(await !b.attempt())
            try await Task.sleep(for: .milliseconds(300))
            #expect(await !b.attempt())
            // By a's own clock its lead ends a margin before the database lets anyone else lead.
            let clock = ContinuousClock()
            let started = clock.now
            while a.isLeading { try await Task.sleep(for: .milliseconds(10)) }
            var taken = false
            while clock.now - started < .seconds(5) {
                if await b.attempt() {
                    taken = true
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(taken)
            #expect(b.leader?.replica == "b")
        }
    }

    @Test("a leader cut off from the database stops leading within its lease", arguments: StoreKind.allCases)
    func cutOff(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let severable = Severable(inner: store)
            let a = Self.leadership("a", severable)
            let b = Self.leadership("b", store)
            #expect(await a.attempt())
            severable.cut.withLock { $0 = true }
            // A failed renewal does not end the lead at once: the lease still holds in the database.
            _ = await a.attempt()
            #expect(a.isLeading)
            #expect(await !b.attempt())
            try await Task.sleep(for: .milliseconds(2100))
            #expect(await !a.attempt())
            #expect(!a.isLeading)
            #expect(await b.attempt())
        }
    }

    @Test("replicas claiming the outbox at once each send a different notice; a dead claimer's notice is free once it falls silent", arguments: StoreKind.allCases)
    func claims(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let outbox = NotificationOutbox(store: store)
            // Three live replicas: each attempt at the lease is a sign of life; claims carry each one's run.
            var run: [String: String] = [:]
            var replicas: [Leadership] = []
            for name in ["a", "b", "c"] {
                let leadership = Self.leadership(name, store)
                await leadership.attempt()
                run[name] = leadership.incarnation
                replicas.append(leadership)
            }
            let (a, b, c) = (run["a"]!, run["b"]!, run["c"]!)
            let date = Date()
            let ids = (0..<60).map { String(format: "ntf_%03d", $0) }
            try await store.transaction { db in
                for id in ids {
                    try await NotificationOutbox.insert(
                        Notification(id: id, customerID: "cus_x", channel: .email, eventType: "test", subject: "s", body: "b", createdAt: date), on: db)
                }
            }
            let taken = try await withThrowingTaskGroup(of: [String].self) { group in
                for (replica, leadership) in zip([a, b, c], replicas) {
                    group.addTask {
                        var mine: [String] = []
                        // Each claimer shows a sign of life before each claim, as a live replica's lease loop does: on
                        // a loaded machine the 60 claims can outlast `WorkClaim.liveness`, and a silent claimer's
                        // notice would rightly go to another (seen in a clean-clone CI run: 71 sends of 60 notices).
                        while true {
                            await leadership.attempt()
                            guard let notification = try await outbox.claimNext(at: date, by: replica) else { break }
                            mine.append(notification.id)
                            try await outbox.markSent(notification.id, at: date)
                        }
                        return mine
                    }
                }
                var all: [[String]] = []
                for try await mine in group { all.append(mine) }
                return all
            }
            let flat = taken.flatMap { $0 }
            #expect(flat.count == ids.count)
            #expect(Set(flat) == Set(ids))

            // A claim never recorded keeps the notice from the others while its claimer lives, until the claim runs out.
            // The replicas show a sign of life again first: the claims above can take longer than the 10 s of
            // `WorkClaim.liveness` on a loaded machine, and a claimer that fell silent would rightly lose its claim.
            for replica in replicas { await replica.attempt() }
            let last = Notification(id: "ntf_late", customerID: "cus_x", channel: .email, eventType: "test", subject: "s", body: "b", createdAt: date)
            try await store.transaction { db in try await NotificationOutbox.insert(last, on: db) }
            #expect(try await outbox.claimNext(at: date, by: a)?.id == "ntf_late")
            #expect(try await outbox.claimNext(at: date.addingTimeInterval(60), by: b) == nil)
            #expect(try await outbox.claimNext(at: date.addingTimeInterval(WorkClaim.lease + 1), by: b)?.id == "ntf_late")
            // `b` dies holding it: once `b` is silent, `c` may take it at once.
            #expect(try await outbox.claimNext(at: date, by: c) == nil)
            try await store.withSession { db in try await db.raw("UPDATE coordinator_replicas SET seen_at = 0 WHERE name = \(bind: b)").run() }
            #expect(try await outbox.claimNext(at: date, by: c)?.id == "ntf_late")
            // `c` restarts under the same name: the new run is another incarnation, and the old run's claim is void.
            let restarted = Self.leadership("c", store)
            await restarted.attempt()
            #expect(restarted.incarnation != c)
            #expect(try await outbox.claimNext(at: date, by: restarted.incarnation) == nil)
            try await store.withSession { db in try await db.raw("UPDATE coordinator_replicas SET seen_at = 0 WHERE name = \(bind: c)").run() }
            #expect(try await outbox.claimNext(at: date, by: restarted.incarnation)?.id == "ntf_late")
            // A failed attempt gives it back, due again after the backoff.
            try await outbox.markFailed(last, error: "refused", at: date)
            #expect(try await outbox.claimNext(at: date, by: a) == nil)
            #expect(try await outbox.claimNext(at: date.addingTimeInterval(31), by: a)?.id == "ntf_late")
        }
    }

    @Test("a data-subject ticket is advanced by one replica at a time, and by another once its claimer falls silent", arguments: StoreKind.allCases)
    func ticketClaims(kind: StoreKind) async throws {
        try await TestStores.withStore(kind) { store in
            let (first, second) = (Self.leadership("a", store), Self.leadership("b", store))
            await first.attempt()
            await second.attempt()
            let (a, b) = (first.incarnation, second.incarnation)
            let requests = DataSubjectRequestRepository(store: store)
            let date = Date()
            for index in 0..<2 {
                try await requests.create(
                    DataSubjectRequestRecord(
                        id: "dsr_\(index)", type: .access, regulation: .gdpr, subject: .email("s\(index)@example.org"), state: .inProgress,
                        receivedAt: date.addingTimeInterval(Double(index)), dueAt: Regulation.gdpr.due(receivedAt: date), extended: false,
                        extensionReason: nil, verificationMethod: "document", stateReason: nil, notes: nil, createdBy: "test", updatedAt: date,
                        closedAt: nil),
                    code: nil, by: RepositoryTests.admin)
            }
            #expect(try await requests.claimFanningOut(at: date, by: a, skipping: [])?.id == "dsr_0")
            #expect(try await requests.claimFanningOut(at: date, by: b, skipping: [])?.id == "dsr_1")
            #expect(try await requests.claimFanningOut(at: date, by: b, skipping: ["dsr_1"]) == nil)
            try await requests.release("dsr_1")
            #expect(try await requests.claimFanningOut(at: date, by: a, skipping: ["dsr_0"])?.id == "dsr_1")
            try await store.withSession { db in try await db.raw("UPDATE coordinator_replicas SET seen_at = 0 WHERE name = \(bind: a)").run() }
            #expect(try await requests.claimFanningOut(at: date, by: b, skipping: [])?.id == "dsr_0")
        }
    }
}

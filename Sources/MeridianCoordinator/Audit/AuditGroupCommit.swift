import Foundation
import MeridianCore
import SQLKit
import Synchronization

/// Group commit for audit entries that stand alone (reads of customer data): requests that record at the same
/// time share one transaction, which takes the append lock and reads the chain's head once and commits once,
/// instead of once each. Each caller still returns only once its own entry is committed, or throws if that
/// commit failed.
///
/// There is no writer task: the first caller to find no batch being written writes every entry waiting, then
/// the ones that came meanwhile, until none is left; the others wait for their entry's outcome.
final class AuditGroupCommit: Sendable {
    struct Entry: Sendable {
        var event: AuditEvent
        var actor: AuditActor
        var date: Date
        var outcome: Outcome
    }

    /// One entry's result, handed from the writer to its caller.
    final class Outcome: Sendable {
        private let state = Mutex<(result: Result<Void, any Error>?, waiter: CheckedContinuation<Void, any Error>?)>((nil, nil))

        func finish(_ result: Result<Void, any Error>) {
            let waiter = state.withLock { state -> CheckedContinuation<Void, any Error>? in
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(with: result)
        }

        func wait() async throws {
            try await withCheckedThrowingContinuation { continuation in
                let result = state.withLock { state -> Result<Void, any Error>? in
                    if state.result == nil { state.waiter = continuation }
                    return state.result
                }
                if let result { continuation.resume(with: result) }
            }
        }
    }

    /// The largest batch in one transaction.
    static let batchLimit = 256

    let store: any SQLStore
    private let state = Mutex<(waiting: [Entry], writing: Bool)>(([], false))
    /// Transactions written so far (for tests and benchmarks: entries per commit).
    let commits = Mutex(0)

    init(store: any SQLStore) {
        self.store = store
    }

    func record(_ event: AuditEvent, by actor: AuditActor, at date: Date) async throws {
        let outcome = Outcome()
        let writes = state.withLock { state -> Bool in
            state.waiting.append(Entry(event: event, actor: actor, date: date, outcome: outcome))
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        if writes { await writeAll() }
        try await outcome.wait()
    }

    private func writeAll() async {
        while true {
            let batch = state.withLock { state -> [Entry] in
                let batch = Array(state.waiting.prefix(Self.batchLimit))
                state.waiting.removeFirst(batch.count)
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                try await store.transaction { db in
                    try await SQLAuditLog.append(batch.map { ($0.event, $0.actor, $0.date) }, on: db)
                }
                commits.withLock { $0 += 1 }
                for entry in batch { entry.outcome.finish(.success(())) }
            } catch {
                for entry in batch { entry.outcome.finish(.failure(error)) }
            }
        }
    }
}

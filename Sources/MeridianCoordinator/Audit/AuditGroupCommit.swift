import Foundation
import MeridianCore
import SQLKit
import Synchronization

/// Group commit for audit entries that stand alone (reads of customer data): requests that record at the same
/// time share one transaction, which takes the append lock and reads the chain's head once and commits once,
/// instead of once each. Each caller still returns only once its own entry is committed, or throws if that
/// commit failed.
///
/// There is no writer task. A caller that finds no batch being written writes the waiting entries, its own first,
/// as one batch. When it is done it hands the writing on to the caller of the oldest entry still waiting, so that
/// nobody writes for others longer than one batch.
final class AuditGroupCommit: Sendable {
    struct Entry: Sendable {
        var event: AuditEvent
        var actor: AuditActor
        var date: Date
        var outcome: Outcome
    }

    /// What the writer tells an entry's caller: its entry's result, or that it writes the next batch.
    enum Word: Sendable {
        case committed(Result<Void, any Error>)
        case writeNext
    }

    /// One word, handed from the writer to an entry's caller.
    final class Outcome: Sendable {
        private let state = Mutex<(word: Word?, waiter: CheckedContinuation<Word, Never>?)>((nil, nil))

        func tell(_ word: Word) {
            let waiter = state.withLock { state -> CheckedContinuation<Word, Never>? in
                defer { state.waiter = nil }
                if state.waiter == nil { state.word = word }
                return state.waiter
            }
            waiter?.resume(returning: word)
        }

        func wait() async -> Word {
            await withCheckedContinuation { continuation in
                let word = state.withLock { state -> Word? in
                    defer { state.word = nil }
                    if state.word == nil { state.waiter = continuation }
                    return state.word
                }
                if let word { continuation.resume(returning: word) }
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
        var writes = state.withLock { state -> Bool in
            state.waiting.append(Entry(event: event, actor: actor, date: date, outcome: outcome))
            guard !state.writing else { return false }
            state.writing = true
            return true
        }
        while true {
            if writes { await writeBatch() }
            switch await outcome.wait() {
            case .committed(let result): return try result.get()
            case .writeNext: writes = true
            }
        }
    }

    /// Writes the oldest waiting entries as one transaction, tells each its result, and hands the writing on.
    private func writeBatch() async {
        let batch = state.withLock { state -> [Entry] in
            let batch = Array(state.waiting.prefix(Self.batchLimit))
            state.waiting.removeFirst(batch.count)
            return batch
        }
        do {
            try await store.transaction { db in
                try await SQLAuditLog.append(batch.map { ($0.event, $0.actor, $0.date) }, on: db)
            }
            commits.withLock { $0 += 1 }
            for entry in batch { entry.outcome.tell(.committed(.success(()))) }
        } catch {
            for entry in batch { entry.outcome.tell(.committed(.failure(error))) }
        }
        let next = state.withLock { state -> Outcome? in
            guard let first = state.waiting.first else {
                state.writing = false
                return nil
            }
            return first.outcome
        }
        next?.tell(.writeNext)
    }
}

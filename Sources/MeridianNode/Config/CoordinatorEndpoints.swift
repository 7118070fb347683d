import Foundation
import Synchronization

/// The node ports of the coordinator's replicas that a node was given (`--coordinator`, once or more). The node
/// talks to one; when that one does not answer it tries the next, and stays with the first that answers. With one
/// URL (a balancer's name, or a single coordinator) this is that URL.
///
/// Pushes come from whichever replica leads, to the node's control API, whatever this list says; the list is for
/// what the node starts itself: its pulls and reports, its certificate renewals and its join.
final class CoordinatorEndpoints: Sendable {
    let urls: [String]
    /// The index of the URL that last answered; nil until one has.
    private let answeredIndex = Mutex<Int?>(nil)

    init(_ urls: [String]) {
        precondition(!urls.isEmpty, "a node with a coordinator has at least one URL for it")
        self.urls = urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// An error that another replica would answer the same way (a join token for another coordinator): `first`
    /// throws the error inside at once instead of trying the next URL.
    struct Final: Error {
        var error: any Error
    }

    /// The URL that last answered; nil until one has (`GET /v1/status` shows it).
    var answered: String? { answeredIndex.withLock { $0 }.map { urls[$0] } }

    /// `call` against the URL that last answered (the first, before any has), then against each other in turn until
    /// one succeeds, which is then tried first; returns its result and URL. When none succeeds, throws an error that
    /// names every replica tried and what each said (with a single URL, that URL's own error).
    func first<T: Sendable>(_ call: @Sendable (String) async throws -> T) async throws -> (result: T, url: String) {
        let start = answeredIndex.withLock { $0 } ?? 0
        var failures: [(url: String, error: any Error)] = []
        for offset in 0..<urls.count {
            let index = (start + offset) % urls.count
            do {
                let result = try await call(urls[index])
                answeredIndex.withLock { $0 = index }
                return (result, urls[index])
            } catch let error as CancellationError {
                throw error
            } catch let final as Final {
                throw final.error
            } catch {
                failures.append((urls[index], error))
            }
        }
        guard failures.count > 1 else { throw failures[0].error }
        throw NodeError(
            .coordinatorUnavailable,
            "no coordinator replica answered: " + failures.map { "\($0.url): \(String(describing: $0.error))" }.joined(separator: "; "))
    }
}

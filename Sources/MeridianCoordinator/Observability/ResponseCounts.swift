import Foundation
import MeridianCore
import Synchronization

/// Answers counted by status class (`2xx`, `4xx`, `5xx`), in memory.
final class ResponseCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func record(_ status: Int) {
        counts.withLock { $0["\(status / 100)xx", default: 0] += 1 }
    }

    func snapshot() -> [String: Int] { counts.withLock { $0 } }
}

import Dispatch

extension Array where Element: Sendable {
    /// `map` over every core (`DispatchQueue.concurrentPerform`), results in order; the first error thrown wins.
    /// For the config compiler's CPU-bound work over many customers and a few regions.
    func parallelMap<Result: Sendable>(_ transform: @Sendable (Element) throws -> Result) throws -> [Result] {
        let results = ResultSlots<Result>(count: count)
        self.withUnsafeBufferPointer { elements in
            nonisolated(unsafe) let elements = elements
            DispatchQueue.concurrentPerform(iterations: count) { index in
                results.set(index, Swift.Result { try transform(elements[index]) })
            }
        }
        return try results.values()
    }
}

/// One slot per index, each written by exactly one iteration of `concurrentPerform`, read after all finished.
private final class ResultSlots<Value: Sendable>: @unchecked Sendable {
    private var slots: [Result<Value, any Error>?]

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
    }

    func set(_ index: Int, _ value: Result<Value, any Error>) {
        slots.withUnsafeMutableBufferPointer { $0[index] = value }
    }

    func values() throws -> [Value] {
        try slots.map { try $0!.get() }
    }
}

import MeridianCore

/// A binary min-heap of deliveries by due time.
struct DueHeap {
    private(set) var items: [(due: ContinuousClock.Instant, key: DeliveryKey)] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var first: (due: ContinuousClock.Instant, key: DeliveryKey)? { items.first }

    mutating func insert(_ key: DeliveryKey, due: ContinuousClock.Instant) {
        items.append((due, key))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].due < items[parent].due else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    /// Takes `key` out wherever it is; returns whether it was there. Linear, for the rare redelivery.
    mutating func remove(_ key: DeliveryKey) -> Bool {
        guard items.contains(where: { $0.key == key }) else { return false }
        let rest = items.filter { $0.key != key }
        items = []
        for item in rest { insert(item.key, due: item.due) }
        return true
    }

    mutating func popFirst() -> DeliveryKey? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let key = items.removeLast().key
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].due < items[smallest].due { smallest = left }
            if right < items.count, items[right].due < items[smallest].due { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return key
    }
}

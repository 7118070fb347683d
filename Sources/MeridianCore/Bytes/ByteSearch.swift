#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Array where Element == UInt8 {
    /// The index of the first `byte` at or after `start`, found with `memchr`: the hot loop of both the
    /// DATA reader and the MIME parser.
    @inline(__always)
    func firstIndex(of byte: UInt8, from start: Int, to end: Int? = nil) -> Int? {
        let end = end ?? count
        guard start < end else { return nil }
        return withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, let found = memchr(base + start, Int32(byte), end - start) else { return nil }
            return UnsafeRawPointer(found) - UnsafeRawPointer(base)
        }
    }

    /// The index of the first occurrence of `pattern` at or after `start`: `memchr` finds each candidate first
    /// byte and `memcmp` checks the rest (glibc's `memmem` is not visible to Swift).
    @inline(__always)
    func firstIndex(of pattern: [UInt8], from start: Int, to end: Int? = nil) -> Int? {
        let end = end ?? count
        guard !pattern.isEmpty, start + pattern.count <= end else { return nil }
        return withUnsafeBufferPointer { buffer in
            pattern.withUnsafeBufferPointer { needle in
                guard let base = buffer.baseAddress, let first = needle.first else { return nil }
                var from = start
                let last = end - needle.count
                while from <= last, let found = memchr(base + from, Int32(first), last + 1 - from) {
                    let index = UnsafeRawPointer(found) - UnsafeRawPointer(base)
                    if memcmp(base + index, needle.baseAddress!, needle.count) == 0 { return index }
                    from = index + 1
                }
                return nil
            }
        }
    }
}

extension UnsafeBufferPointer where Element == UInt8 {
    /// The index of the first `byte` at or after `start`, found with `memchr`.
    @inline(__always)
    func firstIndex(of byte: UInt8, from start: Int) -> Int? {
        guard let base = baseAddress, start < count, let found = memchr(base + start, Int32(byte), count - start) else { return nil }
        return UnsafeRawPointer(found) - UnsafeRawPointer(base)
    }
}

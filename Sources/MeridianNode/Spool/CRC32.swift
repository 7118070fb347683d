/// CRC-32 (IEEE 802.3, the zlib polynomial), to tell a spool record torn by a crash from a whole one.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: some Collection<UInt8>, seed: UInt32 = 0) -> UInt32 {
        if let crc = bytes.withContiguousStorageIfAvailable({ checksum(buffer: $0, seed: seed) }) { return crc }
        return Array(bytes).withUnsafeBufferPointer { checksum(buffer: $0, seed: seed) }
    }

    private static func checksum(buffer: UnsafeBufferPointer<UInt8>, seed: UInt32) -> UInt32 {
        table.withUnsafeBufferPointer { table in
            var crc = ~seed
            for byte in buffer { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            return ~crc
        }
    }
}

enum Base64Encoder {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func append(_ input: [UInt8], to output: inout [UInt8]) {
        let start = output.count
        let length = (input.count + 2) / 3 * 4
        output += repeatElement(0, count: length)
        output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { bytes in
                alphabet.withUnsafeBufferPointer { table in
                    var o = start
                    var i = 0
                    while i + 3 <= bytes.count {
                        let value = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                        out[o] = table[Int(value >> 18)]
                        out[o + 1] = table[Int(value >> 12 & 63)]
                        out[o + 2] = table[Int(value >> 6 & 63)]
                        out[o + 3] = table[Int(value & 63)]
                        i += 3
                        o += 4
                    }
                    let left = bytes.count - i
                    if left > 0 {
                        let value = UInt32(bytes[i]) << 16 | (left == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
                        out[o] = table[Int(value >> 18)]
                        out[o + 1] = table[Int(value >> 12 & 63)]
                        out[o + 2] = left == 2 ? table[Int(value >> 6 & 63)] : 0x3D
                        out[o + 3] = 0x3D
                    }
                }
            }
        }
    }
}

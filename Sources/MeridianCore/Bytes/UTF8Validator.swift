/// Checks UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) one byte at a time, so that a
/// decoder can check its output while it writes it, instead of the standard library checking it again in a pass of its
/// own when the text becomes a `String`. Text that passed can be handed on as bytes (``JSONWriter`` writes them as
/// they are) and turned into a `String` only where one is needed.
struct UTF8Validator {
    /// Continuation bytes still due for the sequence begun.
    private var due: UInt8 = 0
    /// The range the next continuation byte must fall in: narrower than 0x80...0xBF only after E0, ED, F0 and F4.
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF
    /// False from the first byte that cannot be UTF-8 on.
    private(set) var valid = true

    /// Whether everything given so far is UTF-8 and no sequence is left open.
    var isComplete: Bool { valid && due == 0 }

    /// Whether a run of ASCII may come now: no sequence is open (an ASCII byte inside one ends the text's validity).
    @inline(__always) mutating func ascii() {
        if due != 0 { valid = false }
    }

    /// One byte of 0x80 or above.
    @inline(__always) mutating func nonASCII(_ byte: UInt8) {
        if due != 0 {
            if byte < low || byte > high { valid = false }
            due -= 1
            low = 0x80
            high = 0xBF
            return
        }
        switch byte {
        case 0xC2...0xDF: due = 1
        case 0xE0: (due, low) = (2, 0xA0)
        case 0xE1...0xEC, 0xEE, 0xEF: due = 2
        case 0xED: (due, high) = (2, 0x9F)
        case 0xF0: (due, low) = (3, 0x90)
        case 0xF1...0xF3: due = 3
        case 0xF4: (due, high) = (3, 0x8F)
        default: valid = false  // a continuation byte with no lead, C0, C1, F5 to FF
        }
    }

    /// Whether `bytes` are UTF-8: eight at a time while they are ASCII, then byte by byte.
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var validator = UTF8Validator()
        var index = 0
        let count = bytes.count
        while index < count {
            if validator.due == 0, index + 8 <= count,
               UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            let byte = base[index]
            if byte < 0x80 { validator.ascii() } else { validator.nonASCII(byte) }
            guard validator.valid else { return false }
            index += 1
        }
        return validator.isComplete
    }

    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { isValid($0) }
    }
}

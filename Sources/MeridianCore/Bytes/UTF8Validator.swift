import CMeridianBytes

/// Checks UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), 64 or 16 bytes a step with
/// vector instructions (`meridian_utf8_valid_using`, in C): a decoder checks its output once, and text that passed is
/// handed on as bytes (``JSONWriter`` writes them as they are) and turned into a `String` only where one is needed.
/// The standard library's own check, when a `String` is made, goes a byte at a time past the first non-ASCII byte.
enum UTF8Validator {
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>, vectors: VectorInstructions = .all) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        return meridian_utf8_valid_using(base, bytes.count, vectors.flags)
    }

    static func isValid(_ bytes: [UInt8], vectors: VectorInstructions = .all) -> Bool {
        bytes.withUnsafeBufferPointer { isValid($0, vectors: vectors) }
    }
}

/// Checks UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF) one byte at a time, so that a
/// decoder can check its output while it writes it, instead of the standard library checking it again in a pass of its
/// own when the text becomes a `String`. Text that passed can be handed on as bytes (``JSONWriter`` writes them as
/// they are) and turned into a `String` only where one is needed.
///
/// A state machine with no branches: each byte's row of a table holds, for every state, the next state, as six bits
/// at the state's own offset, so that a step is one shift of a word loaded for the byte (a "shift-based DFA"). The
/// step that depends on the last one is the shift alone; the byte-by-byte branches of a decoder whose text mixes two-
/// and three-byte characters mispredicted once in every few bytes.
struct UTF8Validator {
    /// The states, as offsets into a row: the last byte ended a character, no byte can make this valid again, one,
    /// two or three continuation bytes due, and the three-byte and four-byte leads whose next byte has a narrower range.
    private enum State: Int, CaseIterable {
        case accept, reject, oneDue, twoDue, afterE0, afterED, threeDue, afterF0, afterF4

        var offset: UInt64 { UInt64(rawValue * 6) }

        func next(_ byte: Int) -> State {
            let continuation = (0x80...0xBF).contains(byte)
            switch self {
            case .accept:
                switch byte {
                case 0x00...0x7F: return .accept
                case 0xC2...0xDF: return .oneDue
                case 0xE0: return .afterE0
                case 0xE1...0xEC, 0xEE, 0xEF: return .twoDue
                case 0xED: return .afterED
                case 0xF0: return .afterF0
                case 0xF1...0xF3: return .threeDue
                case 0xF4: return .afterF4
                default: return .reject  // a continuation byte with no lead, C0, C1, F5 to FF
                }
            case .reject: return .reject
            case .oneDue: return continuation ? .accept : .reject
            case .twoDue: return continuation ? .oneDue : .reject
            case .afterE0: return (0xA0...0xBF).contains(byte) ? .oneDue : .reject
            case .afterED: return (0x80...0x9F).contains(byte) ? .oneDue : .reject
            case .threeDue: return continuation ? .twoDue : .reject
            case .afterF0: return (0x90...0xBF).contains(byte) ? .twoDue : .reject
            case .afterF4: return (0x80...0x8F).contains(byte) ? .twoDue : .reject
            }
        }
    }

    /// Row `byte`: the next state's offset for each state, at that state's offset. Made once, never freed.
    private nonisolated(unsafe) static let rows: UnsafePointer<UInt64> = {
        let rows = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        for byte in 0..<256 {
            rows[byte] = State.allCases.reduce(0) { row, state in row | state.next(byte).offset << state.offset }
        }
        return UnsafePointer(rows)
    }()

    private let table = UTF8Validator.rows
    private var state = State.accept.offset

    /// Whether everything given so far is UTF-8 and no sequence is left open.
    var isComplete: Bool { state == State.accept.offset }

    /// False from the first byte that cannot be UTF-8 on.
    var valid: Bool { state != State.reject.offset }

    /// A byte below 0x80, or a run of them: valid only where no sequence is open.
    @inline(__always) mutating func ascii() {
        state = table[0] &>> state & 63
    }

    /// One byte, of any value (a decoder calls ``ascii()`` for its runs of ASCII and this for the rest).
    @inline(__always) mutating func step(_ byte: UInt8) {
        state = table[Int(byte)] &>> state & 63
    }

    /// Whether `bytes` are UTF-8: eight at a time while they are ASCII, then byte by byte.
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var validator = UTF8Validator()
        var index = 0
        let count = bytes.count
        while index < count {
            if validator.isComplete, index + 8 <= count,
               UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                index += 8
                continue
            }
            validator.step(base[index])
            guard validator.valid else { return false }
            index += 1
        }
        return validator.isComplete
    }

    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { isValid($0) }
    }
}

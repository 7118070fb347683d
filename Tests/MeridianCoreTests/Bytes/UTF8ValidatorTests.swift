import Testing

@testable import MeridianCore

/// ``UTF8Validator`` says of bytes what the standard library's own check says (`String(validating:)`), with each of its
/// loops: 64 bytes a step, 16 bytes a step, a byte at a time (the first two where this processor has them).
struct UTF8ValidatorTests {
    private static func standardLibrary(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    /// What every loop says, when they agree; nil when they do not.
    private static func isValid(_ bytes: [UInt8]) -> Bool? {
        let answers = Set(VectorInstructions.allCases.map { UTF8Validator.isValid(bytes, vectors: $0) })
        return answers.count == 1 ? answers.first : nil
    }

    @Test func everySequenceOfOneAndTwoBytes() {
        for first in 0...255 {
            #expect(Self.isValid([UInt8(first)]) == Self.standardLibrary([UInt8(first)]), "\(first)")
            for second in 0...255 {
                let bytes = [UInt8(first), UInt8(second)]
                #expect(Self.isValid(bytes) == Self.standardLibrary(bytes), "\(bytes)")
            }
        }
    }

    /// Random sequences from the bytes at the edges of UTF-8's ranges (overlong forms, surrogates, above U+10FFFF),
    /// behind runs of ASCII long enough for the word-at-a-time path.
    @Test func randomSequencesAtTheEdges() {
        let edges: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                              0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var generator = SystemRandomNumberGenerator()
        var valid = 0, invalid = 0
        for _ in 0..<100_000 {
            let ascii = [UInt8](repeating: 0x61, count: Int.random(in: 0...17, using: &generator))
            let tail = (0..<Int.random(in: 0...6, using: &generator)).map { _ in edges.randomElement(using: &generator)! }
            let bytes = Bool.random(using: &generator) ? ascii + tail : tail + ascii
            let expected = Self.standardLibrary(bytes)
            #expect(Self.isValid(bytes) == expected, "\(bytes)")
            if expected { valid += 1 } else { invalid += 1 }
        }
        #expect(valid > 10_000 && invalid > 10_000)
    }

    /// Longer text, so that sequences, right and wrong, fall across the 16- and 64-byte steps of the vector loops: runs
    /// of ASCII, whole characters and edge bytes, in any order.
    @Test func randomTextAcrossTheSteps() {
        let edges: [UInt8] = [0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        let characters = ["é", "東", "😀", "\u{10FFFF}", "\u{D7FF}", "\u{E000}", "ß"].map { Array($0.utf8) }
        var generator = SystemRandomNumberGenerator()
        var valid = 0, invalid = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                switch Int.random(in: 0..<8, using: &generator) {
                case 0...3: bytes += [UInt8](repeating: 0x61, count: Int.random(in: 0...40, using: &generator))
                case 4...6: bytes += characters.randomElement(using: &generator)!
                default: bytes.append(edges.randomElement(using: &generator)!)
                }
            }
            let expected = Self.standardLibrary(bytes)
            #expect(Self.isValid(bytes) == expected, "\(bytes)")
            if expected { valid += 1 } else { invalid += 1 }
        }
        #expect(valid > 2_000 && invalid > 2_000)
    }

    @Test func wholeCharacters() {
        for text in ["", "plain", "Zürich", "東京", "😀 and 🏳️‍🌈", String(repeating: "é", count: 50), "\u{10FFFF}", "\u{FFFF}\u{E000}",
                     String(repeating: "a", count: 63) + "😀", String(repeating: "Zürich 東京 ", count: 40)] {
            #expect(Self.isValid(Array(text.utf8)) == true, "\(text)")
        }
        #expect(Self.isValid([0xF0, 0x9F, 0x98]) == false, "a sequence cut short at the end")
        #expect(Self.isValid([UInt8](repeating: 0x61, count: 61) + [0xF0, 0x9F, 0x98]) == false, "cut short at the end of a step")
        #expect(Self.isValid([UInt8](repeating: 0x61, count: 13) + [0xF0, 0x9F, 0x98]) == false, "cut short at the end of a 16-byte step")
        #expect(Self.isValid([0xED, 0xA0, 0x80]) == false, "a surrogate")
        #expect(Self.isValid([0xE0, 0x80, 0xAF]) == false, "an overlong form")
    }
}

import Testing

@testable import MeridianCore

/// ``UTF8Validator`` says of bytes what the standard library's own check says (`String(validating:)`).
struct UTF8ValidatorTests {
    private static func standardLibrary(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    @Test func everySequenceOfOneAndTwoBytes() {
        for first in 0...255 {
            #expect(UTF8Validator.isValid([UInt8(first)]) == Self.standardLibrary([UInt8(first)]), "\(first)")
            for second in 0...255 {
                let bytes = [UInt8(first), UInt8(second)]
                #expect(UTF8Validator.isValid(bytes) == Self.standardLibrary(bytes), "\(bytes)")
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
            #expect(UTF8Validator.isValid(bytes) == expected, "\(bytes)")
            if expected { valid += 1 } else { invalid += 1 }
        }
        #expect(valid > 10_000 && invalid > 10_000)
    }

    @Test func wholeCharacters() {
        for text in ["", "plain", "Zürich", "東京", "😀 and 🏳️‍🌈", String(repeating: "é", count: 50), "\u{10FFFF}", "\u{FFFF}\u{E000}"] {
            #expect(UTF8Validator.isValid(Array(text.utf8)), "\(text)")
        }
        #expect(!UTF8Validator.isValid([0xF0, 0x9F, 0x98]), "a sequence cut short at the end")
        #expect(!UTF8Validator.isValid([0xED, 0xA0, 0x80]), "a surrogate")
        #expect(!UTF8Validator.isValid([0xE0, 0x80, 0xAF]), "an overlong form")
    }
}

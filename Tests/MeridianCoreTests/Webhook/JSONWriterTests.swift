import Foundation
@testable import MeridianCore
import Testing

@Suite("JSON writer")
struct JSONWriterTests {
    /// Every escape at every offset within and across 8-byte words, read back by Foundation's parser.
    @Test func stringsRoundTrip() throws {
        let specials: [Character] = ["\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "東", " "]
        for special in specials {
            for offset in 0..<20 {
                let text = String(repeating: "a", count: offset) + String(special) + String(repeating: "b", count: 20 - offset)
                #expect(try Self.roundTrip(text) == text, "\(special.debugDescription) at \(offset)")
            }
        }
    }

    /// Several bytes to escape in one word, next to each other and apart, and every ASCII byte in a row.
    @Test func escapesCloseTogether() throws {
        let ascii = String(decoding: (0..<128).map { UInt8($0) }, as: UTF8.self)
        let texts = ["\r\n\r\n", "a\"b\\c\td", "<p style=\"m\">x</p>\r\n", ascii, ascii + "é東" + ascii]
        for text in texts {
            #expect(try Self.roundTrip(text) == text, "\(text.debugDescription)")
        }
    }

    /// The 64-byte loop and the byte loop write the same bytes as a plain reading of RFC 8259, on random text with
    /// escapes at every offset of a step, the last step short or whole; and Foundation reads each back.
    @Test func bothLoopsEscapeAsTheRFCSays() throws {
        let pieces = ["a", "plain words of text ", "\"", "\\", "\n", "\r\n", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "東", "😀",
                      String(repeating: "x", count: 63)].map { Array($0.utf8) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let text = (0..<Int.random(in: 0...40, using: &generator)).flatMap { _ in pieces.randomElement(using: &generator)! }
            let expected = Self.escapedByteByByte(text)
            for vectors in VectorInstructions.allCases {
                var written: [UInt8] = [0x5B, 0x22]
                text.withUnsafeBufferPointer { JSONWriter.appendEscaped($0, to: &written, vectors: vectors) }
                #expect(Array(written.dropFirst(2)) == expected, "\(vectors) \(text)")
                written += [0x22, 0x5D]
                let read = try JSONSerialization.jsonObject(with: Data(written)) as? [String]
                #expect(read?.first.map { Array($0.utf8) } == text, "\(vectors) \(text)")
            }
        }
    }

    private static func escapedByteByByte(_ text: [UInt8]) -> [UInt8] {
        text.flatMap { byte -> [UInt8] in
            switch byte {
            case 0x22: Array("\\\"".utf8)
            case 0x5C: Array("\\\\".utf8)
            case 0x0A: Array("\\n".utf8)
            case 0x0D: Array("\\r".utf8)
            case 0x09: Array("\\t".utf8)
            case ..<0x20: Array(String(format: "\\u%04x", byte).utf8)
            default: [byte]
            }
        }
    }

    /// `text` written as a JSON string and read back by Foundation's parser.
    static func roundTrip(_ text: String) throws -> String? {
        var writer = JSONWriter()
        writer.beginArray()
        writer.string(text)
        writer.endArray()
        return (try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String])?.first
    }

    /// Bytes written in place land after what was there, whole, whether the array had room or had to grow; and an
    /// attachment's clean base64 lines are written without their breaks, as the string Foundation reads back.
    @Test func bytesWrittenInPlaceFollowWhatWasThere() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let before = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let added = (0..<Int.random(in: 0...5_000, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var bytes = before
            if Bool.random(using: &generator) { bytes.reserveCapacity(before.count + added.count + 10) }
            JSONWriter.append(count: added.count, to: &bytes) { out in added.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: added.count) } }
            #expect(bytes == before + added)
        }
        let data = (0..<1_000).map { UInt8($0 % 251) }
        var encoded: [UInt8] = []
        Base64Encoder.append(data, to: &encoded)
        let lines = stride(from: 0, to: encoded.count, by: 76).map { encoded[$0..<min($0 + 76, encoded.count)] + Array("\r\n".utf8) }
        let content = try #require(Base64Lines(checking: Array(lines.joined())[...]))
        var writer = JSONWriter()
        writer.beginArray()
        writer.base64String(.base64(content))
        writer.endArray()
        #expect(try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String] == [String(decoding: encoded, as: UTF8.self)])
    }

    @Test func prettyAndCompactAreTheSameJSON() throws {
        for pretty in [false, true] {
            var writer = JSONWriter(pretty: pretty)
            writer.beginObject()
            writer.key("a")
            writer.beginArray()
            writer.number(1)
            writer.string(nil)
            writer.bool(true)
            writer.endArray()
            writer.key("b")
            writer.beginObject()
            writer.endObject()
            writer.key("c")
            writer.base64String([0, 1, 2, 3])
            writer.endObject()
            let parsed = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? NSDictionary
            #expect(parsed == ["a": [1, NSNull(), true], "b": [String: Int](), "c": "AAECAw=="] as NSDictionary)
        }
    }
}

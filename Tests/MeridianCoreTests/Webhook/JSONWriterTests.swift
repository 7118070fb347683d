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

    /// `text` written as a JSON string and read back by Foundation's parser.
    static func roundTrip(_ text: String) throws -> String? {
        var writer = JSONWriter()
        writer.beginArray()
        writer.string(text)
        writer.endArray()
        return (try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String])?.first
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

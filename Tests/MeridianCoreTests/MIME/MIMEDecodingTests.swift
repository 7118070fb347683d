import Foundation
import Testing

@testable import MeridianCore

@Suite("MIME: decoding headers, parameters, transfer encodings and charsets")
struct MIMEDecodingTests {
    private func decodeHeader(_ text: String) -> (String, Set<MIMEFlag>) {
        var flags: Set<MIMEFlag> = []
        let value = EncodedWords.decode(Array(text.utf8)[...], flags: &flags)
        return (value, flags)
    }

    @Test func encodedWords() {
        #expect(decodeHeader("=?UTF-8?B?w6k=?=").0 == "é")
        #expect(decodeHeader("=?utf-8?q?a_b?= =?utf-8?q?c?=").0 == "a bc", "space between encoded words is dropped")
        #expect(decodeHeader("x =?utf-8?q?a?= y").0 == "x a y", "space next to plain text stays")
        #expect(decodeHeader("=?utf-8*en?Q?lang?=").0 == "lang", "RFC 2231 language suffix")
        #expect(decodeHeader("=?x-unknown?Q?abc?=") == ("abc", [.unknownCharset]))
        #expect(decodeHeader("=?utf-8?Q?broken").0 == "=?utf-8?Q?broken")
        #expect(decodeHeader("=?utf-8?Q?=FF?=") == ("\u{FFFD}", [.invalidCharsetData]))
        #expect(decodeHeader("caf\u{E9}").0 == "café", "raw UTF-8 (RFC 6532)")
        var flags: Set<MIMEFlag> = []
        #expect(EncodedWords.decode([0x63, 0x61, 0x66, 0xE9][...], flags: &flags) == "café", "Latin-1 bytes read as Windows-1252")
        #expect(flags == [.invalidHeaderBytes])
    }

    @Test func manyUnterminatedEncodedWordsStayLinear() {
        // 200 000 "=?" openings without any "?=": each is tried once against what is already known.
        let hostile = String(repeating: "=?a?Q?b", count: 200_000)
        let unchanged = decodeHeader(hostile).0 == hostile
        #expect(unchanged)
    }

    @Test func parametersWithRFC2231() {
        var flags: Set<MIMEFlag> = []
        let value = MIMEHeaderValue.parse(Array("Attachment ; FileName*=iso-8859-1'fr'r%E9sum%E9.txt; size=12".utf8), flags: &flags)
        #expect(value.value == "attachment")
        #expect(value.parameters == ["filename": "résumé.txt", "size": "12"])
        let continued = MIMEHeaderValue.parse(Array("application/pdf; name*1=\"b.pdf\"; name*0=\"a\"".utf8), flags: &flags)
        #expect(continued.parameters["name"] == "ab.pdf", "sections are joined in number order")
        let quoted = MIMEHeaderValue.parse(Array("text/plain; name=\"a \\\"q\\\" ;b\"; charset=UTF-8".utf8), flags: &flags)
        #expect(quoted.parameters == ["name": "a \"q\" ;b", "charset": "UTF-8"])
        #expect(flags.isEmpty)
        _ = MIMEHeaderValue.parse(Array("text/plain; name=\"unterminated".utf8), flags: &flags)
        #expect(flags == [.malformedParameter])
    }

    @Test func quotedPrintable() {
        func qp(_ text: String) -> (String, Bool) {
            let (bytes, clean, _) = TransferEncoding.decodeQuotedPrintable(Array(text.utf8)[...])
            return (String(decoding: bytes, as: UTF8.self), clean)
        }
        #expect(qp("a=3Db=\r\nc") == ("a=bc", true))
        #expect(qp("soft =  \r\nbreak") == ("soft break", true), "whitespace after a soft-break = is padding")
        #expect(qp("trailing   \r\nline") == ("trailing\r\nline", true))
        #expect(qp("keep=20\r\n") == ("keep \r\n", true))
        #expect(qp("lower =c3=a9") == ("lower é", true))
        #expect(qp("bad =G1 end=") == ("bad =G1 end", false))
    }

    /// The word-at-a-time decoder answers exactly as the line-by-line one it replaced (kept below as the oracle), on
    /// random text from the pieces that matter: `=`, hex digits, blanks, CR, LF, escapes of UTF-8 (whole, cut short,
    /// a surrogate, an overlong form) and raw 8-bit bytes. What it says of UTF-8 is what the standard library says of
    /// the output, and with `lineFeeds` its output is the oracle's after ``MessageContent/unixLineEndings(_:)``.
    @Test func quotedPrintableMatchesTheLineByLineDecoder() {
        let pieces = ["=", "=", "A", "a", "F", "3", "f", "9", "g", " ", "\t", "\r\n", "\r\n", "\n", "\r", "x", "=C3", "=A9", "=c3=a9",
                      "=E2=82", "=AC", "=0D", "=0A", "=\r\n", "=F0=9F=98=80", "=ED=A0=80", "=C0=AF", "=F4=90=80=80"].map { Array($0.utf8) }
            + [[0xC3], [0xA9], [0xE2, 0x82, 0xAC], [0xFF]]
        // Text as mail has it: runs of plain words (the vector loop's 64-byte steps) between escapes and breaks.
        let plain = ["the quick brown fox ", "jumps", "over the lazy dog and then some more words", "Z", "caf=C3=A9 ", "r=C3=A9sum=\r\n=C3=A9",
                     "Stra=C3=9Fe\r\n", "=D0=BF=D1=80=D0=B8", "line =\r\n"].map { Array($0.utf8) }
        var generator = SystemRandomNumberGenerator()
        var valid = 0, invalid = 0
        for round in 0..<40_000 {
            let length = round < 20_000 ? Int.random(in: 0...12, using: &generator) : Int.random(in: 0...120, using: &generator)
            let mixed = round >= 30_000
            let input = (0..<length).flatMap { _ in
                (mixed && Int.random(in: 0..<4, using: &generator) > 0 ? plain : pieces).randomElement(using: &generator)!
            }
            let reference = Self.lineByLineQuotedPrintable(input[...])
            let isUTF8 = String(validating: reference.bytes, as: UTF8.self) != nil
            // With the vector loop where the processor has it, and with the byte loop alone, as any processor runs it.
            for vectors in [true, false] {
                let fast = TransferEncoding.decodeQuotedPrintable(input[...], vectors: vectors)
                #expect(fast.bytes == reference.bytes && fast.clean == reference.clean, "\(vectors) \(input)")
                #expect(fast.utf8 == isUTF8, "\(input)")
                let lineFeeds = TransferEncoding.decodeQuotedPrintable(input[...], lineFeeds: true, vectors: vectors)
                #expect(lineFeeds.bytes == MessageContent.unixLineEndings(reference.bytes) && lineFeeds.clean == reference.clean, "\(vectors) \(input)")
                #expect(lineFeeds.utf8 == isUTF8, "\(input)")
                if fast.bytes != reference.bytes || fast.utf8 != isUTF8 || lineFeeds.bytes != MessageContent.unixLineEndings(reference.bytes) { return }
            }
            if isUTF8 { valid += 1 } else { invalid += 1 }
        }
        #expect(valid > 5_000 && invalid > 5_000, "the inputs are both valid and invalid UTF-8: \(valid) and \(invalid)")
    }

    @Test func base64() {
        let (bytes, clean) = TransferEncoding.decodeBase64(Array("SGVs\r\nbG8=".utf8)[...])
        #expect(String(decoding: bytes, as: UTF8.self) == "Hello" && clean)
        #expect(TransferEncoding.decodeBase64(Array("SGVsbG8".utf8)[...]).bytes == Array("Hello".utf8), "missing padding")
        #expect(TransferEncoding.decodeBase64(Array("S".utf8)[...]).clean == false)
        let lines = Base64Lines(checking: Array("SGVs\r\nbG8=\r\n".utf8)[...])
        #expect(lines?.text == Array("SGVsbG8=".utf8) && lines?.decodedSize == 5 && lines?.count == 8)
        #expect(Base64Lines(checking: Array("SGVsbG8".utf8)[...]) == nil, "not canonical: decode and re-encode instead")
        #expect(Base64Lines(checking: Array("SG=s".utf8)[...]) == nil)
        #expect(Base64Lines(checking: []).map { $0.count == 0 && $0.text.isEmpty } == true)
        for length in 0..<8 {
            let data = (0..<length).map { UInt8($0 * 37 & 0xFF) }
            var encoded: [UInt8] = []
            Base64Encoder.append(data, to: &encoded)
            #expect(TransferEncoding.decodeBase64(encoded[...]).bytes == data)
        }
    }

    /// The fast path for lines of one length answers as the general line-by-line loop it sits in front of, and both
    /// answer as a plain reading of the rule (the alphabet in lines, padding and blanks at the end), on random base64
    /// in lines of 76, 64, 8 or mixed lengths, with CRLF or LF, and now and then a stray byte.
    /// Lines of 64 bytes and more take the C loop's second step (with AVX-512); each loop is tried.
    @Test(arguments: VectorInstructions.allCases)
    func base64LinesMatchTheLineByLineCompaction(vectors: VectorInstructions) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var generator = SystemRandomNumberGenerator()
        var compacted = 0
        // 2,000 a loop: the suite runs its tests at once on few cores, and a test that computes without awaiting
        // holds a core from every other test while it does.
        for _ in 0..<2_000 {
            let lineLength = [76, 64, 8, 12, 5, 60, 68, 128, 132, 200].randomElement(using: &generator)!
            let lineBreak: [UInt8] = Bool.random(using: &generator) ? [0x0D, 0x0A] : [0x0A]
            var input: [UInt8] = []
            for line in 0..<Int.random(in: 0...6, using: &generator) {
                let length = line > 0 && Int.random(in: 0..<8, using: &generator) == 0 ? Int.random(in: 1...210, using: &generator) : lineLength
                input += (0..<length).map { _ in alphabet.randomElement(using: &generator)! } + lineBreak
            }
            input += Array("QUJD".utf8.prefix(Int.random(in: 0...4, using: &generator))) + Array("==".utf8.prefix(Int.random(in: 0...2, using: &generator)))
            if Int.random(in: 0..<6, using: &generator) == 0, !input.isEmpty {
                input[Int.random(in: 0..<input.count, using: &generator)] = [0x2D, 0x20, 0x3D, 0x0D, 0xC3].randomElement(using: &generator)!
            }
            let fast = Base64Lines(checking: input[...], fixedLines: true, vectors: vectors)
            let general = Base64Lines(checking: input[...], fixedLines: false)
            let reference = Self.compactBase64(input)
            let fastText = fast?.text(vectors: vectors)
            #expect(fastText == reference?.text && fast?.decodedSize == reference?.decodedSize, "\(input) fast \(String(describing: fastText)) reference \(String(describing: reference))")
            #expect(general?.text == reference?.text && general?.decodedSize == reference?.decodedSize, "\(input) general \(String(describing: general?.text))")
            if let fast { #expect(fast.count == fast.text.count && TransferEncoding.decodeBase64(fast.source).bytes.count == fast.decodedSize) }
            if fast != nil { compacted += 1 }
        }
        #expect(compacted > 300, "the random inputs reach the fast path: \(compacted)")
    }

    /// The rule of ``Base64Lines``, read plainly: blanks and then up to three `=` are taken off the end; what is left
    /// must be lines of the alphabet, each ended by LF or CRLF; the text is the lines and the padding, whole quanta.
    static func compactBase64(_ input: [UInt8]) -> (text: [UInt8], decodedSize: Int)? {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var end = input.count
        while end > 0, [0x20, 0x09, 0x0D, 0x0A].contains(input[end - 1]) { end -= 1 }
        var padding = 0
        while end > 0, input[end - 1] == 0x3D, padding < 3 { end -= 1; padding += 1 }
        var text: [UInt8] = []
        for var line in input[..<end].split(separator: 0x0A, omittingEmptySubsequences: false) {
            if line.last == 0x0D { line = line.dropLast() }
            guard line.allSatisfy(alphabet.contains) else { return nil }
            text += line
        }
        text += repeatElement(0x3D, count: padding)
        guard padding <= 2, text.count % 4 == 0 else { return nil }
        return (text, text.count / 4 * 3 - padding)
    }

    /// Finding delimiters by searching for `--boundary` answers as looking at every line did (the oracle below).
    @Test func splitMultipartMatchesTheLineByLineSplit() {
        let pieces = ["--b", "--b--", "--bb", "x--b", "--b ", "text", "-", "--", "\r\n", "\n", "b", " "].map { Array($0.utf8) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let raw = (0..<Int.random(in: 0...12, using: &generator)).flatMap { _ in pieces.randomElement(using: &generator)! }
            let lower = raw.isEmpty ? 0 : Int.random(in: 0...min(3, raw.count), using: &generator)
            var flags: Set<MIMEFlag> = [], referenceFlags: Set<MIMEFlag> = []
            let fast = MIMEParser.splitMultipart(raw, body: lower..<raw.count, boundary: Array("b".utf8), flags: &flags)
            let reference = MIMEParserOracle.lineByLineSplit(raw, body: lower..<raw.count, boundary: Array("b".utf8), flags: &referenceFlags)
            #expect(fast == reference && flags == referenceFlags, "\(String(decoding: raw, as: UTF8.self))")
            if fast != reference { return }
        }
    }

    @Test func charsets() {
        #expect(Charset(label: "ISO_8859-2")?.decode([0xB1][...]).text == "ą")
        #expect(Charset(label: "\"cp1252\"")?.decode([0x80][...]).text == "€")
        #expect(Charset(label: "latin1")?.decode([0x93, 0xE9][...]).text == "“é", "ISO-8859-1 is read as Windows-1252")
        #expect(Charset(label: "koi8-r")?.decode([0xF0][...]).text == "П")
        #expect(Charset(label: "windows-1258")?.decode([0xD2][...]).text == "\u{0309}")
        #expect(Charset(label: "iso-8859-16")?.decode([0xA4][...]).text == "€")
        #expect(Charset(label: "iso-8859-11") != nil && Charset(label: "iso-8859-12") == nil)
        #expect(Charset(label: "iso-8859-3")!.decode([0xA5][...]) == ("\u{FFFD}", false), "unassigned byte")
        #expect(Charset(label: "gb2312") == nil, "multi-byte charsets are kept as bytes")
        #expect(Charset(label: "us-ascii")!.decode(Array("né".utf8)[...]) == ("né", false))
        #expect(Charset(label: "utf-8")!.decode([0xC3][...]) == ("\u{FFFD}", false))
    }

    /// The table-driven decoder of single-byte charsets answers as a character-by-character reading of each charset's
    /// table: every byte alone, then random text, for every charset.
    @Test func singleByteCharsetsMatchTheirTables() {
        var generator = SystemRandomNumberGenerator()
        for (name, upper) in CharsetTables.byName {
            func expected(_ bytes: [UInt8]) -> (String, Bool) {
                let scalars = bytes.map { $0 < 0x80 ? UInt32($0) : UInt32(upper[Int($0) - 0x80]) }
                var text = ""
                text.unicodeScalars.append(contentsOf: scalars.map { Unicode.Scalar($0 == 0xFFFF ? 0xFFFD : $0)! })
                return (text, !scalars.contains(0xFFFF))
            }
            let charset = Charset.singleByte(Charset.utf8Table(upper))
            for byte in 0...255 {
                let decoded = charset.decode([UInt8(byte)][...]), reference = expected([UInt8(byte)])
                #expect(Array(decoded.text.utf8) == Array(reference.0.utf8) && decoded.exact == reference.1, "\(name) \(byte)")
            }
            for _ in 0..<200 {
                let bytes = (0..<Int.random(in: 1...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let decoded = charset.decode(bytes[...]), reference = expected(bytes)
                #expect(Array(decoded.text.utf8) == Array(reference.0.utf8) && decoded.exact == reference.1, "\(name) \(bytes)")
            }
        }
    }

    @Test func headerBlockFoldingAndOddLines() {
        var flags: Set<MIMEFlag> = []
        let raw = Array("From sender@x Mon Nov 23 10:00:00 2026\nSubject: one\n two\nX-A : spaced\nnot a header\n\nbody".utf8)
        let (fields, bodyStart) = HeaderBlockParser.parse(raw, from: 0, to: raw.count, isTopLevel: true, flags: &flags)
        #expect(fields.map(\.name) == ["Subject", "X-A"])
        #expect(fields.map(\.value) == ["one two", "spaced"])
        #expect(String(decoding: raw[bodyStart...], as: UTF8.self) == "not a header\n\nbody")
        #expect(flags == [.missingHeaderSeparator])
    }

    @Test func everyTruncationOfAMessageParses() throws {
        let raw = Array("""
            From: a@x.example\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain; charset=iso-8859-1\r
            Content-Transfer-Encoding: quoted-printable\r\n\r\nR=E9sum=\r\n=E9\r\n--q\r\nContent-Type: application/pdf; name*0*=utf-8''a%\r
            Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--q--\r\n
            """.utf8)
        for length in 0...raw.count {
            let message = MIMEMessage(parsing: Array(raw[..<length]))
            let content = MessageContent(message)
            _ = WebhookPayload.encode(
                envelope: MessageEnvelope(to: "a@b.example", recipients: [], from: "", heloDomain: "h", remoteIP: "192.0.2.1", tls: nil, size: length),
                message: message, content: content)
        }
        let whole = MessageContent(MIMEMessage(parsing: raw))
        #expect(whole.plain == "Résumé")
        #expect(whole.attachments.first?.size == 5)
    }
}

extension MIMEDecodingTests {
    /// The decoder before the word-at-a-time one: a line at a time, memchr for the line ends and the escapes.
    static func lineByLineQuotedPrintable(_ input: ArraySlice<UInt8>) -> (bytes: [UInt8], clean: Bool) {
        var clean = true
        let output = [UInt8](unsafeUninitializedCapacity: input.count) { output, written in
            var count = 0
            input.withContiguousStorageIfAvailable { source in
                guard let base = source.baseAddress, let out = output.baseAddress else { return }
                let end = source.count
                var lineStart = 0
                while lineStart < end {
                    let lineFeed = memchr(base + lineStart, 0x0A, end - lineStart).map {
                        UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base
                    }
                    var contentEnd = lineFeed ?? end
                    if contentEnd > lineStart, base[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                    // Trailing whitespace on an encoded line was added in transport (rule 3).
                    var trimmedEnd = contentEnd
                    while trimmedEnd > lineStart, base[trimmedEnd - 1] == 0x20 || base[trimmedEnd - 1] == 0x09 { trimmedEnd -= 1 }
                    var index = lineStart
                    var softBreak = false
                    while index < trimmedEnd {
                        let equals = memchr(base + index, 0x3D, trimmedEnd - index).map {
                            UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base
                        } ?? trimmedEnd
                        (out + count).update(from: base + index, count: equals - index)
                        count += equals - index
                        index = equals
                        guard index < trimmedEnd else { break }
                        if index + 2 < trimmedEnd, let high = TransferEncoding.hexValue(base[index + 1]), let low = TransferEncoding.hexValue(base[index + 2]) {
                            out[count] = high << 4 | low
                            count += 1
                            index += 3
                        } else if index == trimmedEnd - 1 {
                            softBreak = true
                            index += 1
                        } else {
                            clean = false
                            out[count] = 0x3D
                            count += 1
                            index += 1
                        }
                    }
                    guard let lineFeed else { break }
                    if !softBreak {
                        (out + count).update(from: base + contentEnd, count: lineFeed + 1 - contentEnd)
                        count += lineFeed + 1 - contentEnd
                    }
                    lineStart = lineFeed + 1
                }
            }
            written = count
        }
        return (output, clean)
    }
}

/// The split of a multipart body before delimiters were searched for: every line looked at.
enum MIMEParserOracle {
    static func lineByLineSplit(_ raw: [UInt8], body: Range<Int>, boundary: [UInt8], flags: inout Set<MIMEFlag>) -> [Range<Int>]? {
        var ranges: [Range<Int>] = []
        var partStart: Int?
        var lineStart = body.lowerBound
        while lineStart < body.upperBound {
            let lineFeed = raw.firstIndex(of: 0x0A, from: lineStart, to: body.upperBound)
            let nextLine = (lineFeed ?? body.upperBound - 1) + 1
            if let isClose = MIMEParser.delimiter(raw, at: lineStart, lineEnd: lineFeed ?? body.upperBound, boundary: boundary) {
                if let partStart {
                    var end = lineStart
                    if end > partStart, raw[end - 1] == 0x0A { end -= 1 }
                    if end > partStart, raw[end - 1] == 0x0D { end -= 1 }
                    ranges.append(partStart..<max(partStart, end))
                }
                if isClose { return ranges }
                partStart = nextLine
            }
            lineStart = nextLine
        }
        guard let partStart else { return nil }
        flags.insert(.missingClosingBoundary)
        ranges.append(partStart..<body.upperBound)
        return ranges
    }

}

@testable import MeridianCore
import Testing

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
            let (bytes, clean) = TransferEncoding.decodeQuotedPrintable(Array(text.utf8)[...])
            return (String(decoding: bytes, as: UTF8.self), clean)
        }
        #expect(qp("a=3Db=\r\nc") == ("a=bc", true))
        #expect(qp("soft =  \r\nbreak") == ("soft break", true), "whitespace after a soft-break = is padding")
        #expect(qp("trailing   \r\nline") == ("trailing\r\nline", true))
        #expect(qp("keep=20\r\n") == ("keep \r\n", true))
        #expect(qp("lower =c3=a9") == ("lower é", true))
        #expect(qp("bad =G1 end=") == ("bad =G1 end", false))
    }

    @Test func base64() {
        let (bytes, clean) = TransferEncoding.decodeBase64(Array("SGVs\r\nbG8=".utf8)[...])
        #expect(String(decoding: bytes, as: UTF8.self) == "Hello" && clean)
        #expect(TransferEncoding.decodeBase64(Array("SGVsbG8".utf8)[...]).bytes == Array("Hello".utf8), "missing padding")
        #expect(TransferEncoding.decodeBase64(Array("S".utf8)[...]).clean == false)
        let compact = TransferEncoding.compactBase64(Array("SGVs\r\nbG8=\r\n".utf8)[...])
        #expect(compact?.text == Array("SGVsbG8=".utf8) && compact?.decodedSize == 5)
        #expect(TransferEncoding.compactBase64(Array("SGVsbG8".utf8)[...]) == nil, "not canonical: decode and re-encode instead")
        #expect(TransferEncoding.compactBase64(Array("SG=s".utf8)[...]) == nil)
        for length in 0..<8 {
            let data = (0..<length).map { UInt8($0 * 37 & 0xFF) }
            var encoded: [UInt8] = []
            Base64Encoder.append(data, to: &encoded)
            #expect(TransferEncoding.decodeBase64(encoded[...]).bytes == data)
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

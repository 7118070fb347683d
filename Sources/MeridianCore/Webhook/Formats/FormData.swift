/// A `multipart/form-data` body (RFC 7578), written straight into bytes: text fields, and files with a name
/// and a content type. Names and file names are escaped as browsers do (`"` as `%22`, CR and LF as `%0D` and
/// `%0A`), so a hostile attachment name cannot add a part or a header.
struct FormData {
    let boundary: String
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 4096, boundary: String = FormData.makeBoundary()) {
        self.boundary = boundary
        bytes.reserveCapacity(capacity)
    }

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    /// `meridian-` and 128 random bits in hex: a message cannot be made to contain it.
    static func makeBoundary() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        return "meridian-" + String(decoding: (0..<32).map { _ in hex[Int(generator.next() % 16)] }, as: UTF8.self)
    }

    mutating func field(_ name: String, _ value: String) {
        field(name, bytes: Array(value.utf8))
    }

    mutating func field(_ name: String, bytes value: [UInt8]) {
        startPart()
        bytes += "Content-Disposition: form-data; name=\"".utf8
        bytes += Self.escaped(name)
        bytes += "\"\r\n\r\n".utf8
        bytes += value
        bytes += "\r\n".utf8
    }

    mutating func file(_ name: String, fileName: String, contentType: String, content: [UInt8]) {
        startPart()
        bytes += "Content-Disposition: form-data; name=\"".utf8
        bytes += Self.escaped(name)
        bytes += "\"; filename=\"".utf8
        bytes += Self.escaped(fileName)
        bytes += "\"\r\nContent-Type: ".utf8
        bytes += Self.headerValue(contentType)
        bytes += "\r\n\r\n".utf8
        bytes += content
        bytes += "\r\n".utf8
    }

    /// The body, closed with the final boundary.
    consuming func finish() -> [UInt8] {
        bytes += "--\(boundary)--\r\n".utf8
        return bytes
    }

    private mutating func startPart() {
        bytes += "--\(boundary)\r\n".utf8
    }

    static func escaped(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += "%22".utf8
            case 0x0D: out += "%0D".utf8
            case 0x0A: out += "%0A".utf8
            default: out.append(byte)
            }
        }
        return out
    }

    /// A content type from a message, reduced to printable ASCII on one line; `application/octet-stream` if
    /// nothing is left.
    static func headerValue(_ text: String) -> [UInt8] {
        let kept = text.utf8.filter { $0 >= 0x20 && $0 < 0x7F }
        return kept.isEmpty ? Array("application/octet-stream".utf8) : kept
    }
}

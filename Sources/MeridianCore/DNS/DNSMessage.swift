/// The little of the DNS wire format (RFC 1035) the coordinator needs to check customers' records: a query
/// for one name and type, and the MX and TXT answers of a response, with name compression.
public enum DNSMessage {
    public enum RecordType: UInt16, Sendable {
        case mx = 15
        case txt = 16
    }

    /// How a response ended (RCODE): `nameError` is NXDOMAIN, which is an answer (no records), not a failure.
    public enum ResponseCode: Sendable, Equatable {
        case noError
        case nameError
        case other(UInt8)
    }

    /// An MX answer: its preference and the exchange host, lower case without the final dot.
    public struct MX: Sendable, Equatable {
        public var preference: UInt16
        public var host: String
    }

    public struct Response: Sendable, Equatable {
        public var id: UInt16
        public var code: ResponseCode
        public var truncated: Bool
        public var mx: [MX]
        /// TXT answers, each record's strings joined.
        public var txt: [String]
    }

    public struct FormatError: Error, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// A standard query with recursion desired. `name` must be a valid domain name (checked by the caller).
    public static func query(id: UInt16, name: String, type: RecordType) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let utf8 = Array(label.utf8.prefix(63))
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes += [0, UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), 0, 1]
        return bytes
    }

    public static func parse(_ bytes: [UInt8]) throws(FormatError) -> Response {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw FormatError("not a response") }
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()
        _ = try reader.u16()
        let rcode = UInt8(flags & 0x000f)
        var response = Response(
            id: id, code: rcode == 0 ? .noError : rcode == 3 ? .nameError : .other(rcode), truncated: flags & 0x0200 != 0, mx: [], txt: [])
        for _ in 0..<questions {
            _ = try reader.name()
            try reader.skip(4)
        }
        for _ in 0..<answers {
            _ = try reader.name()
            let type = try reader.u16()
            let klass = try reader.u16()
            try reader.skip(4)
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw FormatError("a record runs past the end of the message") }
            if klass == 1, type == RecordType.mx.rawValue {
                let preference = try reader.u16()
                response.mx.append(MX(preference: preference, host: try reader.name()))
            } else if klass == 1, type == RecordType.txt.rawValue {
                var text: [UInt8] = []
                while reader.offset < end {
                    let count = Int(try reader.u8())
                    text += try reader.take(count)
                }
                response.txt.append(String(decoding: text, as: UTF8.self))
            }
            reader.offset = end
        }
        response.mx.sort { ($0.preference, $0.host) < ($1.preference, $1.host) }
        return response
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u8() throws(FormatError) -> UInt8 {
            guard offset < bytes.count else { throw FormatError("the message is cut short") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(FormatError) -> UInt16 {
            UInt16(try u8()) << 8 | UInt16(try u8())
        }

        mutating func skip(_ count: Int) throws(FormatError) {
            guard offset + count <= bytes.count else { throw FormatError("the message is cut short") }
            offset += count
        }

        mutating func take(_ count: Int) throws(FormatError) -> [UInt8] {
            guard offset + count <= bytes.count else { throw FormatError("the message is cut short") }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        /// A domain name, following compression pointers (at most 32, so a loop cannot hang the parser).
        mutating func name() throws(FormatError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var jumps = 0
            while true {
                guard position < bytes.count else { throw FormatError("a name runs past the end of the message") }
                let length = Int(bytes[position])
                if length & 0xc0 == 0xc0 {
                    guard position + 1 < bytes.count else { throw FormatError("a name pointer is cut short") }
                    jumps += 1
                    guard jumps <= 32 else { throw FormatError("name pointers loop") }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = (length & 0x3f) << 8 | Int(bytes[position + 1])
                    continue
                }
                guard length & 0xc0 == 0 else { throw FormatError("unknown label type") }
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    break
                }
                guard position + 1 + length <= bytes.count else { throw FormatError("a label runs past the end of the message") }
                labels.append(String(decoding: bytes[(position + 1)...(position + length)], as: UTF8.self).lowercased())
                position += 1 + length
            }
            return labels.joined(separator: ".")
        }
    }
}
